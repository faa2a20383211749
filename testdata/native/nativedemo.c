/* A C extension for the --native tests, built by the tests against each
 * interpreter's headers. It gives known C frames around Python ones:
 *   call(f)         nd_call -> f()                 (C calls back into Python)
 *   spin()          nd_spin -> nd_spin_leaf         (a C leaf that never returns;
 *                   prints the readiness line once it runs)
 *   start_thread()  a pthread with no Python state: nd_c_worker -> nd_c_busy
 * Functions are noinline and built without sibling calls so that each one
 * keeps its own frame. Valid for Python 2.7 and 3.x. */
#include <Python.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile unsigned long sink;
static volatile long c_thread_tid;

__attribute__((noinline)) static void nd_c_busy(void) {
  for (;;) sink++;
}

__attribute__((noinline)) static void *nd_c_worker(void *arg) {
  c_thread_tid = syscall(SYS_gettid);
  nd_c_busy();
  return arg;
}

__attribute__((noinline)) static void nd_spin_leaf(void) {
  printf("ready main=%ld cthread=%ld\n", (long)syscall(SYS_gettid), (long)c_thread_tid);
  fflush(stdout);
  for (;;) sink++;
}

__attribute__((noinline)) static PyObject *nd_spin(PyObject *self, PyObject *args) {
  nd_spin_leaf();
  Py_RETURN_NONE;
}

__attribute__((noinline)) static PyObject *nd_call(PyObject *self, PyObject *args) {
  PyObject *f, *r;
  if (!PyArg_ParseTuple(args, "O", &f)) return NULL;
  r = PyObject_CallObject(f, NULL);
  sink++; /* work after the call: the call is not the last thing here */
  return r;
}

static PyObject *nd_start_thread(PyObject *self, PyObject *args) {
  pthread_t t;
  if (pthread_create(&t, NULL, nd_c_worker, NULL) != 0) {
    PyErr_SetString(PyExc_OSError, "pthread_create failed");
    return NULL;
  }
  pthread_detach(t);
  while (c_thread_tid == 0) usleep(1000);
  return Py_BuildValue("l", (long)c_thread_tid);
}

static PyMethodDef methods[] = {
    {"call", nd_call, METH_VARARGS, "call f() from C"},
    {"spin", nd_spin, METH_NOARGS, "spin in C forever"},
    {"start_thread", nd_start_thread, METH_NOARGS, "start a pure C thread"},
    {NULL, NULL, 0, NULL}};

#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "nativedemo", NULL, -1, methods};
PyMODINIT_FUNC PyInit_nativedemo(void) { return PyModule_Create(&module); }
#else
PyMODINIT_FUNC initnativedemo(void) { Py_InitModule("nativedemo", methods); }
#endif

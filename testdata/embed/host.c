/*
 * host: a program that is not Python but runs Python code through
 * libpython, as applications that embed CPython do (Blender, uWSGI, game
 * engines). The profiler must find the interpreter in the shared library,
 * since the executable has no Python symbols and no Python-like name.
 *
 * Usage: host SCRIPT [ARGS...]
 *
 * Runs SCRIPT as __main__ with sys.argv = [SCRIPT, ARGS...] and the
 * script's directory first on sys.path, as `python SCRIPT` would, so the
 * testdata scripts and their readiness line work unchanged. Builds against
 * Python 2.7 and 3.6+; the sampler tests compile it (sampler/buildkinds_test.go).
 */
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if PY_MAJOR_VERSION >= 3
#define HOST_STR PyUnicode_DecodeFSDefault
#else
#define HOST_STR PyString_FromString
#endif

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT [ARGS...]\n", argv[0]);
        return 2;
    }
    const char *script = argv[1];
    FILE *fp = fopen(script, "r");
    if (fp == NULL) {
        perror(script);
        return 2;
    }

    Py_Initialize();

    PyObject *args = PyList_New(0);
    for (int i = 1; i < argc; i++) {
        PyObject *s = HOST_STR(argv[i]);
        if (s == NULL || PyList_Append(args, s) < 0) {
            PyErr_Print();
            return 1;
        }
        Py_DECREF(s);
    }
    PySys_SetObject((char *)"argv", args);
    Py_DECREF(args);

    /* sys.path[0]: the script's directory, so its imports resolve. */
    char *dir = strdup(script);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
    } else {
        strcpy(dir, ".");
    }
    PyObject *path = PySys_GetObject((char *)"path"); /* borrowed */
    PyObject *d = HOST_STR(dir);
    if (path == NULL || d == NULL || PyList_Insert(path, 0, d) < 0) {
        PyErr_Print();
        return 1;
    }
    Py_DECREF(d);
    free(dir);

    /* Closes fp. A SystemExit ends the process here with its code. */
    int rc = PyRun_SimpleFileExFlags(fp, script, 1, NULL);
    Py_Finalize();
    return rc == 0 ? 0 : 1;
}

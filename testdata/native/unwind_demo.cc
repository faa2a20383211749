// A C++ program with a known call chain for the unwinder's live test:
// main -> demo::outer -> demo::middle(int) -> leaf_c. leaf_c records its own
// rip, rsp and rbp, prints them on the readiness line and waits, so the
// test can read the stack and unwind from exactly those registers. Built
// with -O2 -fomit-frame-pointer, so only call-frame information leads out.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static volatile int stop;

extern "C" __attribute__((noinline)) int leaf_c(int x) {
  uint64_t rip, rsp, rbp;
  __asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"  /* # mark: capture */
                   : "=r"(rip), "=r"(rsp), "=r"(rbp));
  printf("ready rip=%llx rsp=%llx rbp=%llx\n", (unsigned long long)rip,
         (unsigned long long)rsp, (unsigned long long)rbp);
  fflush(stdout);
  while (!stop) pause();
  return x + 1;
}

namespace demo {
__attribute__((noinline)) int middle(int x) { return leaf_c(x * 3) + x; }
__attribute__((noinline)) int outer() { return middle(stop + 2) * 2; }
}  // namespace demo

int main() { return demo::outer() == 7; }

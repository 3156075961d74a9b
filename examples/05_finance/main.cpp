// 05_finance: being written (issue 8).
#include <cstdio>
int main() { std::puts("05_finance: not written yet"); return 1; }

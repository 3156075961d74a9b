// 03_compiler_ir: being written (issue 8).
#include <cstdio>
int main() { std::puts("03_compiler_ir: not written yet"); return 1; }

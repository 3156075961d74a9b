// 04_game_ai: being written (issue 8).
#include <cstdio>
int main() { std::puts("04_game_ai: not written yet"); return 1; }

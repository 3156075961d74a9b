// Contracts enabled (this file is compiled without NDEBUG or with MMSB_ENABLE_ASSERTIONS=1):
// a failed MMSB_EXPECTS aborts with a message naming the expression, file and line.
#define MMSB_ENABLE_ASSERTIONS 1
#include <mmsb/config/assert.hpp>

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {
// Runs fn in a child process; returns (terminating signal, what it wrote to stderr).
template <class Fn>
std::pair<int, std::string> run_in_child(Fn fn)
{
  int pipe_fd[2];
  REQUIRE(pipe(pipe_fd) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(pipe_fd[1], STDERR_FILENO);
    close(pipe_fd[0]);
    fn();
    _exit(0);
  }
  close(pipe_fd[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = read(pipe_fd[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  close(pipe_fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFSIGNALED(status) ? WTERMSIG(status) : 0, out};
}
} // namespace

TEST_CASE("a true contract is silent")
{
  int evaluated = 0;
  MMSB_EXPECTS(++evaluated == 1);
  MMSB_ASSERT(evaluated == 1);
  CHECK(evaluated == 1);
}

TEST_CASE("a failed precondition aborts and names the expression")
{
  const auto [sig, err] = run_in_child([] {
    const int size = 3;
    MMSB_EXPECTS(size == 4);
  });
  CHECK(sig == SIGABRT);
  CHECK(err.find("mmsb: precondition failed: size == 4") != std::string::npos);
  CHECK(err.find("assert.cpp") != std::string::npos);
}

TEST_CASE("a failed assertion aborts and says it was an assertion")
{
  const auto [sig, err] = run_in_child([] { MMSB_ASSERT(1 + 1 == 3); });
  CHECK(sig == SIGABRT);
  CHECK(err.find("mmsb: assertion failed: 1 + 1 == 3") != std::string::npos);
}

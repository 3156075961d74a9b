// options.hpp: the examples' command-line options, checked, and the guard around their main.
//
// Contract: option_parser::parse accepts only options that were declared, each with a value of
// the declared kind inside its declared range ("--name VALUE" or "--name=VALUE"); anything else
// (an unknown option, a missing value, a sign, a non-number, a number out of range or past what
// fits) throws usage_error with a message naming the option and the value at fault, followed by
// the usage line. Nothing is assigned to a target until the whole command line has parsed.
// guarded_main turns the outcome into the exit code: 0 (or run's), 2 for a bad command line,
// 1 for a runtime failure (mmsb::error, out of memory, any std::exception), after one line on
// stderr naming the program; it never lets an exception escape into std::terminate. `--help`
// prints the usage line on stdout and exits 0.
//
// Ranges are declared where the option is, so the usage line states them; a program's own
// checks across options (a size that must be a multiple of 16, no more feeds than instruments)
// call reject() after parse(), which gives the same message and exit code.
#pragma once

#include <mmsb/config/error.hpp>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace example {

// A bad command line: its message names the option and value at fault and ends with the usage.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `--help` was given: the usage went to stdout; exit 0.
struct help_shown {};

class option_parser {
public:
  explicit option_parser(std::string program) : program_(std::move(program)) {}

  // A whole number in [min, max], decimal digits only (no sign, no spaces).
  template <class T>
    requires std::is_integral_v<T>
  option_parser& number(std::string name, T& target, std::uint64_t min,
                        std::uint64_t max = static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
  {
    const std::uint64_t cap = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    if (max > cap) max = cap;
    const bool unbounded = min == 0 && max == std::numeric_limits<std::uint64_t>::max();
    const std::string shape = unbounded ? "N" : "N (" + std::to_string(min) + ".." + std::to_string(max) + ")";
    const std::string expected = std::to_string(min) + " to " + std::to_string(max);
    specs_.push_back({name, shape, true, [this, name, &target, min, max, expected](const std::string& v) {
                        std::uint64_t n = 0;
                        if (v.empty()) reject(name, v, "not a whole number (expected " + expected + ")");
                        for (const char c : v) {
                          if (c < '0' || c > '9') reject(name, v, "not a whole number (expected " + expected + ")");
                          const auto d = static_cast<std::uint64_t>(c - '0');
                          if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) reject(name, v, "out of range (expected " + expected + ")");
                          n = n * 10 + d;
                        }
                        if (n < min || n > max) reject(name, v, "out of range (expected " + expected + ")");
                        return [&target, n] { target = static_cast<T>(n); };
                      }});
    return *this;
  }

  // A finite decimal number in [min, max].
  option_parser& real(std::string name, double& target, double min, double max)
  {
    char range[96], expected[96];
    std::snprintf(range, sizeof range, "%g..%g", min, max);
    std::snprintf(expected, sizeof expected, "%g to %g", min, max);
    specs_.push_back({name, std::string("X (") + range + ")", true, [this, name, &target, min, max, expected](const std::string& v) {
                        char* end = nullptr;
                        errno = 0;
                        const double x = v.empty() ? 0.0 : std::strtod(v.c_str(), &end);
                        if (v.empty() || *end != '\0' || std::isspace(static_cast<unsigned char>(v.front())) || errno == ERANGE || !std::isfinite(x))
                          reject(name, v, std::string("not a number (expected ") + expected + ")");
                        if (!(x >= min && x <= max)) reject(name, v, std::string("out of range (expected ") + expected + ")");
                        return [&target, x] { target = x; };
                      }});
    return *this;
  }

  // Any non-empty text (a path, say).
  option_parser& text(std::string name, std::string& target, std::string metavar = "PATH")
  {
    specs_.push_back({name, metavar, true, [this, name, &target](const std::string& v) {
                        if (v.empty()) reject(name, v, "must not be empty");
                        return [&target, v] { target = v; };
                      }});
    return *this;
  }

  // An option without a value: sets target to `value` when given.
  option_parser& flag(std::string name, bool& target, bool value = true)
  {
    specs_.push_back({name, "", false, [&target, value](const std::string&) { return [&target, value] { target = value; }; }});
    return *this;
  }

  // Parses argv[1..argc); assigns the targets only if every argument is good.
  void parse(int argc, char** argv) const
  {
    std::vector<std::function<void()>> assignments;
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i], value;
      if (arg == "--help" || arg == "-h") {
        std::printf("%s\n", usage().c_str());
        throw help_shown{};
      }
      if (arg.rfind("--", 0) != 0) fail("unexpected argument '" + arg + "' (options start with --)");
      const auto eq = arg.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) {
        value = arg.substr(eq + 1);
        arg.resize(eq);
      }
      const spec* s = find(arg);
      if (!s) fail("unknown option " + arg);
      if (!s->takes_value) {
        if (inline_value) fail(arg + " takes no value (got '" + value + "')");
      } else if (!inline_value) {
        // A following option is not a value: "--ticks --seed 5" is a missing value, not a bad one.
        if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0) fail(arg + " needs a value: " + arg + " " + s->shape);
        value = argv[++i];
      }
      assignments.push_back(s->check(value));
    }
    for (const auto& a : assignments) a();
  }

  // Refuses `value` of option `name` for `why`: throws usage_error (exit code 2 in guarded_main).
  [[noreturn]] void reject(const std::string& name, const std::string& value, const std::string& why) const
  {
    fail(name + " '" + value + "': " + why);
  }

  [[nodiscard]] std::string usage() const
  {
    std::string out = "usage: " + program_;
    const std::size_t indent = out.size();
    std::size_t line = out.size();
    for (const auto& s : specs_) {
      const std::string item = " [" + s.name + (s.shape.empty() ? "" : " " + s.shape) + "]";
      if (line + item.size() > 100) {
        out += "\n" + std::string(indent, ' ');
        line = indent;
      }
      out += item;
      line += item.size();
    }
    return out;
  }

  [[nodiscard]] const std::string& program() const noexcept { return program_; }

private:
  struct spec {
    std::string name;
    std::string shape;  // the value as the usage line shows it: "N (1..64)"; empty for a flag
    bool takes_value;
    std::function<std::function<void()>(const std::string&)> check;  // throws, or returns the assignment
  };

  [[noreturn]] void fail(const std::string& why) const { throw usage_error(program_ + ": " + why + "\n" + usage()); }

  [[nodiscard]] const spec* find(const std::string& name) const
  {
    for (const auto& s : specs_)
      if (s.name == name) return &s;
    return nullptr;
  }

  std::string program_;
  std::vector<spec> specs_;
};

// Runs run() (which parses the options and does the work) and maps its outcome to an exit code:
// run's own result; 0 after --help; 2 for a bad command line; 1 for any runtime failure.
template <class Run>
int guarded_main(const char* program, Run&& run) noexcept
{
  try {
    try {
      return std::forward<Run>(run)();
    } catch (const help_shown&) {
      return 0;
    } catch (const usage_error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    } catch (const mmsb::error& e) {
      const auto code = mmsb::to_string(e.code());
      std::fprintf(stderr, "%s: error (%.*s): %s\n", program, static_cast<int>(code.size()), code.data(), e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "%s: error: out of memory (try smaller sizes)\n", program);
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: error: %s\n", program, e.what());
      return 1;
    }
  } catch (...) {  // a failure while reporting one (say, out of memory formatting the message)
    std::fputs("error: unexpected failure\n", stderr);
    return 1;
  }
}

} // namespace example

// mmsb: inspect, verify and replay MMSB's durable files without knowing which bus wrote them.
// `mmsb help` (cli.cpp's usage_text) lists the commands; docs/tool.md explains them, their JSON
// and their exit codes (cli.hpp). This file reads the command line and dispatches:
//   log_commands.cpp     log dump, log verify, log replay --to (a dry run), checkpoint verify
//   state_commands.cpp   replay, stat, diff (through mmsb/bus/untyped_replay.hpp)
// A bad command line, a bad path or files the command cannot use end with one line on stderr
// naming the option or path, and exit status 2; nothing here aborts on input.
#include "cli.hpp"

#include <mmsb/config/error.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include <charconv>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <system_error>
#include <vector>

namespace {

using mmsb::tool::options;
using mmsb::tool::usage_error;

std::uint64_t parse_whole(const std::string& option, const std::string& text, const char* what)
{
  std::uint64_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || r.ec != std::errc{} || r.ptr != text.data() + text.size())
    throw usage_error(option + ": '" + text + "' is not " + what + " (a whole number from 0 to 18446744073709551615)");
  return v;
}

options parse(const std::vector<std::string>& args)
{
  options o;
  bool options_end = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_end || a.size() < 2 || a[0] != '-') {
      o.words.push_back(a);
      continue;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    const auto value = [&]() -> std::string {
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= args.size()) throw usage_error("option " + name + " needs a value");
      return args[++i];
    };
    if (a == "--") options_end = true;
    else if (a == "--json") o.json = true;
    else if (a == "--dump") o.dump = true;
    else if (a == "--help" || a == "-h") o.words.insert(o.words.begin(), "help");
    else if (name == "--epoch") o.epoch = parse_whole(name, value(), "an epoch");
    else if (name == "--to") o.to = parse_whole(name, value(), "an epoch");
    else if (name == "--count") o.count = parse_whole(name, value(), "a count");
    else throw usage_error("unknown option '" + a + "'");
  }
  return o;
}

// The command the words name ("log verify", "replay", ...) and how many paths follow it.
std::string command_of(const std::vector<std::string>& w, std::size_t& paths)
{
  if (w.empty()) throw usage_error("no command");
  if (w[0] == "help") return paths = 0, "help";
  if (w[0] == "replay" || w[0] == "stat" || w[0] == "top") return paths = 1, w[0];
  if (w[0] == "diff") return paths = 2, "diff";
  if ((w[0] == "log" || w[0] == "checkpoint") && w.size() >= 2) {
    const std::string c = w[0] + " " + w[1];
    if (c == "log dump" || c == "log verify" || c == "log replay" || c == "checkpoint verify") return paths = 1, c;
  }
  throw usage_error("unknown command '" + w[0] + (w.size() > 1 && (w[0] == "log" || w[0] == "checkpoint") ? " " + w[1] : std::string()) + "'");
}

int run(const std::vector<std::string>& args)
{
  const options o = parse(args);
  std::size_t paths = 0;
  const std::string cmd = command_of(o.words, paths);
  if (cmd == "help") {
    std::fputs(mmsb::tool::usage_text(), stdout);
    return 0;
  }
  const std::size_t first = cmd.find(' ') == std::string::npos ? 1 : 2;
  if (o.words.size() < first + paths)
    throw usage_error(cmd + ": missing " + (paths == 2 && o.words.size() == first + 1 ? "DIR2" : paths == 2 ? "DIR1 and DIR2" : "DIR") +
                      " (usage: " + mmsb::tool::usage_of(cmd) + ")");
  if (o.words.size() > first + paths)
    throw usage_error(cmd + ": unexpected argument '" + o.words[first + paths] + "' (usage: " + mmsb::tool::usage_of(cmd) + ")");
  const auto refuse = [&](bool given, const char* option) {
    if (given) throw usage_error(cmd + " takes no " + option + " option (usage: " + mmsb::tool::usage_of(cmd) + ")");
  };
  refuse(o.epoch && cmd != "replay" && cmd != "diff", "--epoch");
  refuse(o.dump && cmd != "replay", "--dump");
  refuse(o.to && cmd != "log replay", "--to");
  refuse(o.count && cmd != "top", "--count");
  if (cmd == "log replay" && !o.to) throw usage_error("log replay: missing --to EPOCH (usage: " + mmsb::tool::usage_of(cmd) + ")");

  const std::string& dir = o.words[first];
  if (cmd == "top") return mmsb::tool::top(dir, o.count.value_or(0), o.json);
  mmsb::posix_file_system fs;
  if (cmd == "replay") return mmsb::tool::replay(fs, dir, o.epoch, o.dump, o.json);
  if (cmd == "stat") return mmsb::tool::stat(fs, dir, o.json);
  if (cmd == "diff") return mmsb::tool::diff(fs, dir, o.words[first + 1], o.epoch, o.json);
  mmsb::tool::require_dir(dir);
  if (cmd == "log dump") return mmsb::tool::log_dump(fs, mmsb::tool::resolve(fs, dir, "log"), o.json);
  if (cmd == "log verify") return mmsb::tool::log_verify(fs, mmsb::tool::resolve(fs, dir, "log"), o.json);
  if (cmd == "log replay") return mmsb::tool::log_replay(fs, dir, *o.to, o.json);
  return mmsb::tool::checkpoint_verify(fs, mmsb::tool::resolve(fs, dir, "checkpoints"), o.json);
}

} // namespace

int main(int argc, char** argv)
{
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const usage_error& e) {
    const std::string what = e.what();
    std::fprintf(stderr, "mmsb: %s%s\n", what.c_str(), what.find("usage:") == std::string::npos ? " (`mmsb help` lists the commands)" : "");
    return 2;
  } catch (const mmsb::error& e) {
    std::fprintf(stderr, "mmsb: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "mmsb: out of memory (a damaged length field?)\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmsb: %s\n", e.what());
    return 2;
  }
}

// Options, usage text and JSON text for the mmsb command (cli.hpp).
#include "cli.hpp"

#include <mmsb/config/error.hpp>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace mmsb::tool {

const char* usage_text()
{
  return "usage: mmsb replay DIR [--epoch E] [--dump] [--json]   the state at epoch E (default: the latest) and its hash;\n"
         "                                                      --dump prints every slot (CSV: page,epoch,slot,value)\n"
         "       mmsb stat DIR [--json]                         epochs, segments, checkpoints, sizes, damage found\n"
         "       mmsb diff DIR1 DIR2 [--epoch E] [--json]       the pages and slots that differ, with both values\n"
         "       mmsb log dump DIR [--json]                     every log record\n"
         "       mmsb log verify DIR [--json]                   recovery's verdict on the log\n"
         "       mmsb log replay DIR --to EPOCH [--json]        the records a replay to EPOCH applies (a dry run)\n"
         "       mmsb checkpoint verify DIR [--json]            every checkpoint file: valid, or why not\n"
         "       mmsb top DIR [--count N] [--json]              a running bus's live stats (its DIR.stats file), every second;\n"
         "                                                      --count N: N refreshes, then exit (default: until interrupted)\n"
         "       mmsb help                                      this text\n"
         "DIR is a store directory (log/ and checkpoints/); dump and verify also take log/ or checkpoints/ itself.\n"
         "Exit status: 0 done (no damage; states equal); 1 damage found (verify, dump), states differ (diff),\n"
         "epoch not reachable (log replay); 2 usage error, bad path, or files the command cannot read or interpret.\n";
}

std::string usage_of(const std::string& command)
{
  if (command == "replay") return "mmsb replay DIR [--epoch E] [--dump] [--json]";
  if (command == "stat") return "mmsb stat DIR [--json]";
  if (command == "diff") return "mmsb diff DIR1 DIR2 [--epoch E] [--json]";
  if (command == "log dump") return "mmsb log dump DIR [--json]";
  if (command == "log verify") return "mmsb log verify DIR [--json]";
  if (command == "log replay") return "mmsb log replay DIR --to EPOCH [--json]";
  if (command == "checkpoint verify") return "mmsb checkpoint verify DIR [--json]";
  if (command == "top") return "mmsb top DIR [--count N] [--json]";
  return "mmsb help";
}

std::string json_string(const std::string& s)
{
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string json_value(const std::string& text)
{
  // JSON has no inf or nan: those travel as strings ("inf", "-inf", "nan").
  if (text.find_first_of("in") != std::string::npos) return json_string(text);
  return text;
}

std::string resolve(file_system& fs, const std::string& dir, const char* sub)
{
  const std::string nested = dir + "/" + sub;
  return fs.exists(nested) ? nested : dir;
}

void require_dir(const std::string& path)
{
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) throw error(errc::io_error, path + ": no such directory");
  if (!std::filesystem::is_directory(st)) throw error(errc::io_error, path + ": not a directory");
}

} // namespace mmsb::tool

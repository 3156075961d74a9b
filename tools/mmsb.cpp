// mmsb: inspect and verify MMSB's durable files without knowing which bus wrote them.
//
// DIR is a store directory (holding log/ and checkpoints/) or, for dump, verify and checkpoint
// verify, the log or checkpoint directory itself; replay needs the store directory.
//
//   mmsb log dump DIR [--json]              every record: segment, offset, type, epoch, size, status
//   mmsb log verify DIR [--json]            recovery's verdict: records, last epoch, damage (offset, reason)
//                                           and the log's shape (semiring, layout) in words
//   mmsb log replay DIR --to EPOCH [--json] the checkpoint and commit records a replay to EPOCH would
//                                           apply, checking the chain reaches EPOCH without a gap
//   mmsb checkpoint verify DIR [--json]     every checkpoint file: valid, or why not, and its shape
//
// Exit status: 0 all valid, 1 damage found (the message names the file, offset and reason),
// 2 usage error or unreadable/foreign files.
#include <mmsb/bus/shape.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/log_reader.hpp>
#include <mmsb/log/posix_file_system.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace mmsb;

const char* type_name(record_type t)
{
  switch (t) {
  case record_type::segment: return "segment";
  case record_type::commit: return "commit";
  case record_type::checkpoint: return "checkpoint";
  case record_type::page: return "page";
  case record_type::structure: return "structure";
  }
  return "unknown";
}

std::string json_string(const std::string& s)
{
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// A store directory holds log/ and checkpoints/; the commands take it or the subdirectory itself.
std::string resolve(file_system& fs, const std::string& dir, const char* sub)
{
  const std::string nested = dir + "/" + sub;
  return fs.exists(nested) ? nested : dir;
}

int usage()
{
  std::fprintf(stderr,
               "usage: mmsb log dump DIR [--json]\n"
               "       mmsb log verify DIR [--json]\n"
               "       mmsb log replay DIR --to EPOCH [--json]\n"
               "       mmsb checkpoint verify DIR [--json]\n");
  return 2;
}

std::vector<std::byte> shape_of_log(file_system& fs, const std::string& dir)
{
  auto shape = read_log_shape(fs, dir);
  if (!shape) throw error(errc::bad_format, dir + ": no readable log segment (is this an MMSB log directory?)");
  return *shape;
}

int log_dump(file_system& fs, const std::string& dir, bool json)
{
  int status = 0;
  const auto shape = read_log_shape(fs, dir);
  const std::string shape_words = shape ? describe_shape(*shape) : "unknown (no readable segment record)";
  std::vector<std::uint64_t> indices;
  std::uint64_t index = 0;
  for (const auto& name : fs.list(dir))
    if (parse_segment_name(name, index)) indices.push_back(index);
  if (indices.empty()) throw error(errc::bad_format, dir + ": no log segments");
  if (json) std::printf("{\"shape\": %s, \"records\": [", json_string(shape_words).c_str());
  else std::printf("shape: %s\n", shape_words.c_str());
  bool first = true;
  for (const auto i : indices) {
    const std::string path = dir + "/" + segment_name(i);
    const auto bytes = detail::read_file(fs, path);
    std::size_t off = 0;
    while (off < bytes.size()) {
      record_header h;
      span<const std::byte> payload;
      const auto fault = check_record(span<const std::byte>(bytes.data() + off, bytes.size() - off), h, payload);
      if (fault != record_fault::none) {
        const auto next = find_next_record(bytes, off + 1);
        const std::string what = std::string(to_string(fault)) + (next < bytes.size() ? " (a valid record follows at offset " + std::to_string(next) + ": corruption)" : " (to the end of the segment)");
        if (json) std::printf("%s{\"segment\": %s, \"offset\": %zu, \"status\": %s}", first ? "" : ", ", json_string(path).c_str(), off, json_string(what).c_str());
        else std::printf("%s  offset %8zu  BAD: %s\n", path.c_str(), off, what.c_str());
        first = false;
        status = 1;
        break;
      }
      if (json)
        std::printf("%s{\"segment\": %s, \"offset\": %zu, \"type\": \"%s\", \"epoch\": %llu, \"txn\": %llu, \"bytes\": %u}", first ? "" : ", ",
                    json_string(path).c_str(), off, type_name(h.type), static_cast<unsigned long long>(h.epoch.value()),
                    static_cast<unsigned long long>(h.txn.value()), h.payload_bytes);
      else
        std::printf("%s  offset %8zu  %-10s epoch %-8llu txn %-8llu %u bytes\n", path.c_str(), off, type_name(h.type),
                    static_cast<unsigned long long>(h.epoch.value()), static_cast<unsigned long long>(h.txn.value()), h.payload_bytes);
      first = false;
      off += record_header_bytes + h.payload_bytes;
    }
  }
  if (json) std::printf("]}\n");
  return status;
}

int log_verify(file_system& fs, const std::string& dir, bool json)
{
  const auto shape = shape_of_log(fs, dir);
  const auto r = read_log(fs, dir, shape, recovery_mode::point_in_time, [](const record_header&, span<const std::byte>) {});
  if (json) {
    std::printf("{\"shape\": %s, \"segments\": %llu, \"records\": %llu, \"last_epoch\": %llu, \"damage\": ",
                json_string(describe_shape(shape)).c_str(), static_cast<unsigned long long>(r.segments), static_cast<unsigned long long>(r.records),
                static_cast<unsigned long long>(r.last_epoch.value()));
    if (r.damage)
      std::printf("{\"segment\": %s, \"offset\": %llu, \"reason\": %s, \"corruption\": %s, \"dropped_bytes\": %llu}}\n",
                  json_string(r.damage->segment).c_str(), static_cast<unsigned long long>(r.damage->offset),
                  json_string(to_string(r.damage->fault)).c_str(), r.damage->mid_log ? "true" : "false",
                  static_cast<unsigned long long>(r.damage->dropped_bytes));
    else
      std::printf("null}\n");
  } else {
    std::printf("%s: %s\n  shape: %s\n", dir.c_str(), r.describe().c_str(), describe_shape(shape).c_str());
  }
  return r.damage ? 1 : 0;
}

int log_replay(file_system& fs, const std::string& dir, std::uint64_t to, bool json)
{
  const auto shape = shape_of_log(fs, dir + "/log");
  std::uint64_t base = 0;
  std::string ckpt = "none (from an empty state)";
  const std::string ckpt_dir = dir + "/checkpoints";
  if (fs.exists(ckpt_dir)) {
    std::vector<epoch> all;
    for (const auto& name : fs.list(ckpt_dir)) {
      epoch e;
      if (parse_checkpoint_name(name, e) && e.value() <= to) all.push_back(e);
    }
    std::sort(all.rbegin(), all.rend());
    for (const auto e : all) {
      std::size_t page_bytes = 0;
      const auto bytes = detail::read_file(fs, ckpt_dir + "/" + checkpoint_name(e));
      record_header h;
      span<const std::byte> p;
      if (check_record(bytes, h, p) != record_fault::none) continue;
      const std::size_t second = record_header_bytes + h.payload_bytes;
      if (second < bytes.size() && check_record(span<const std::byte>(bytes.data() + second, bytes.size() - second), h, p) == record_fault::none &&
          h.type == record_type::page)
        page_bytes = p.size() - 4;
      const auto r = load_checkpoint(fs, ckpt_dir, shape, page_bytes, [](page_id, epoch, span<const std::byte>) {}, e);
      if (r.loaded && r.loaded->epoch == e) {
        base = e.value();
        ckpt = ckpt_dir + "/" + checkpoint_name(e);
        break;
      }
    }
  }
  std::uint64_t reached = base, applied = 0;
  std::string gap;
  (void)read_log(fs, dir + "/log", shape, recovery_mode::point_in_time,
                 [&](const record_header& h, span<const std::byte>) {
                   if (h.type != record_type::commit || reached >= to || !gap.empty()) return;
                   if (h.epoch.value() != reached + 1) {
                     gap = "the log continues at epoch " + std::to_string(h.epoch.value()) + " after epoch " + std::to_string(reached);
                     return;
                   }
                   reached = h.epoch.value();
                   ++applied;
                 },
                 epoch{base});
  const bool ok = reached == to && gap.empty();
  if (json)
    std::printf("{\"to\": %llu, \"checkpoint\": %s, \"from_epoch\": %llu, \"commits\": %llu, \"reached\": %llu, \"ok\": %s}\n",
                static_cast<unsigned long long>(to), json_string(ckpt).c_str(), static_cast<unsigned long long>(base),
                static_cast<unsigned long long>(applied), static_cast<unsigned long long>(reached), ok ? "true" : "false");
  else
    std::printf("replay to epoch %llu: checkpoint %s, then %llu commits: %s\n", static_cast<unsigned long long>(to), ckpt.c_str(),
                static_cast<unsigned long long>(applied),
                ok ? "reachable" : ("NOT reachable (" + (gap.empty() ? "the retained log ends at epoch " + std::to_string(reached) : gap) + ")").c_str());
  return ok ? 0 : 1;
}

int checkpoint_verify(file_system& fs, const std::string& dir, bool json)
{
  std::vector<epoch> all;
  for (const auto& name : fs.list(dir)) {
    epoch e;
    if (parse_checkpoint_name(name, e)) all.push_back(e);
  }
  if (all.empty()) throw error(errc::bad_format, dir + ": no checkpoint files");
  int status = 0;
  std::string last_words;
  if (json) std::printf("{\"checkpoints\": [");
  for (std::size_t k = 0; k < all.size(); ++k) {
    const std::string path = dir + "/" + checkpoint_name(all[k]);
    const auto bytes = detail::read_file(fs, path);
    record_header h;
    span<const std::byte> shape, p;
    std::string verdict, words = "unknown (no readable header record)";
    std::size_t page_bytes = 0;
    if (const auto f = check_record(bytes, h, shape); f != record_fault::none || h.type != record_type::segment) {
      verdict = std::string("header: ") + (f != record_fault::none ? to_string(f) : "not a checkpoint") + " at offset 0";
    } else {
      const std::size_t second = record_header_bytes + h.payload_bytes;
      if (second < bytes.size() && check_record(span<const std::byte>(bytes.data() + second, bytes.size() - second), h, p) == record_fault::none &&
          h.type == record_type::page)
        page_bytes = p.size() - 4;
      const std::vector<std::byte> shape_copy(shape.begin(), shape.end());
      words = describe_shape(shape_copy);
      const auto r = load_checkpoint(fs, dir, shape_copy, page_bytes, [](page_id, epoch, span<const std::byte>) {}, all[k]);
      if (r.loaded && r.loaded->epoch == all[k]) verdict = "valid: " + std::to_string(r.loaded->pages) + " pages";
      else if (!r.rejected.empty()) verdict = r.rejected.front().substr(path.size() + 2);
      else verdict = "not valid";
    }
    const bool valid = verdict.rfind("valid", 0) == 0;
    if (!valid) status = 1;
    if (json)
      std::printf("%s{\"file\": %s, \"epoch\": %llu, \"valid\": %s, \"detail\": %s, \"shape\": %s}", k ? ", " : "",
                  json_string(path).c_str(), static_cast<unsigned long long>(all[k].value()), valid ? "true" : "false",
                  json_string(verdict).c_str(), json_string(words).c_str());
    else {
      if (words != last_words) std::printf("shape: %s\n", words.c_str());  // once per run of equal shapes
      last_words = words;
      std::printf("%s  epoch %llu  %s%s\n", path.c_str(), static_cast<unsigned long long>(all[k].value()), valid ? "" : "DAMAGED: ", verdict.c_str());
    }
  }
  if (json) std::printf("]}\n");
  return status;
}

} // namespace

int main(int argc, char** argv)
{
  std::vector<std::string> args(argv + 1, argv + argc);
  bool json = false;
  std::optional<std::uint64_t> to;
  std::vector<std::string> words;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json") json = true;
    else if (args[i] == "--to" && i + 1 < args.size()) {
      char* end = nullptr;
      to = std::strtoull(args[++i].c_str(), &end, 10);
      if (*end) return usage();
    } else words.push_back(args[i]);
  }
  if (words.size() != 3) return usage();
  mmsb::posix_file_system fs;
  try {
    if (!fs.exists(words[2])) throw mmsb::error(mmsb::errc::io_error, words[2] + ": no such directory");
    if (words[0] == "log" && words[1] == "dump") return log_dump(fs, resolve(fs, words[2], "log"), json);
    if (words[0] == "log" && words[1] == "verify") return log_verify(fs, resolve(fs, words[2], "log"), json);
    if (words[0] == "log" && words[1] == "replay" && to) return log_replay(fs, words[2], *to, json);
    if (words[0] == "checkpoint" && words[1] == "verify")
      return checkpoint_verify(fs, resolve(fs, words[2], "checkpoints"), json);
  } catch (const mmsb::error& e) {
    std::fprintf(stderr, "mmsb: %s\n", e.what());
    return 2;
  }
  return usage();
}

// The log and checkpoint commands: dump, verify, and the dry-run replay (cli.hpp).
#include "cli.hpp"

#include <mmsb/bus/shape.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/log/checkpoint.hpp>
#include <mmsb/log/log_reader.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace mmsb::tool {

namespace {

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

std::vector<std::byte> shape_of_log(file_system& fs, const std::string& dir)
{
  auto shape = read_log_shape(fs, dir);
  if (!shape) throw error(errc::bad_format, dir + ": no readable log segment (is this an MMSB log directory?)");
  return *shape;
}

} // namespace

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
  std::sort(indices.begin(), indices.end());
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

checkpoint_check check_checkpoint(file_system& fs, const std::string& dir, std::uint64_t epoch_value)
{
  const epoch e{epoch_value};
  const std::string path = dir + "/" + checkpoint_name(e);
  const auto bytes = detail::read_file(fs, path);
  record_header h;
  span<const std::byte> shape, p;
  checkpoint_check c;
  c.shape = "unknown (no readable header record)";
  std::size_t page_bytes = 0;
  if (const auto f = check_record(bytes, h, shape); f != record_fault::none || h.type != record_type::segment) {
    c.detail = std::string("header: ") + (f != record_fault::none ? to_string(f) : "not a checkpoint") + " at offset 0";
    return c;
  }
  const std::size_t second = record_header_bytes + h.payload_bytes;
  if (second < bytes.size() && check_record(span<const std::byte>(bytes.data() + second, bytes.size() - second), h, p) == record_fault::none &&
      h.type == record_type::page)
    page_bytes = p.size() - 4;
  const std::vector<std::byte> shape_copy(shape.begin(), shape.end());
  c.shape = describe_shape(shape_copy);
  const auto r = load_checkpoint(fs, dir, shape_copy, page_bytes, [](page_id, epoch, span<const std::byte>) {}, e);
  c.valid = r.loaded && r.loaded->epoch == e;
  if (c.valid) c.detail = "valid: " + std::to_string(r.loaded->pages) + " pages";
  else if (!r.rejected.empty()) c.detail = r.rejected.front().substr(path.size() + 2);
  else c.detail = "not valid";
  return c;
}

int checkpoint_verify(file_system& fs, const std::string& dir, bool json)
{
  std::vector<epoch> all;
  for (const auto& name : fs.list(dir)) {
    epoch e;
    if (parse_checkpoint_name(name, e)) all.push_back(e);
  }
  if (all.empty()) throw error(errc::bad_format, dir + ": no checkpoint files");
  std::sort(all.begin(), all.end());
  int status = 0;
  std::string last_words;
  if (json) std::printf("{\"checkpoints\": [");
  for (std::size_t k = 0; k < all.size(); ++k) {
    const std::string path = dir + "/" + checkpoint_name(all[k]);
    const auto c = check_checkpoint(fs, dir, all[k].value());
    if (!c.valid) status = 1;
    if (json)
      std::printf("%s{\"file\": %s, \"epoch\": %llu, \"valid\": %s, \"detail\": %s, \"shape\": %s}", k ? ", " : "",
                  json_string(path).c_str(), static_cast<unsigned long long>(all[k].value()), c.valid ? "true" : "false",
                  json_string(c.detail).c_str(), json_string(c.shape).c_str());
    else {
      if (c.shape != last_words) std::printf("shape: %s\n", c.shape.c_str());  // once per run of equal shapes
      last_words = c.shape;
      std::printf("%s  epoch %llu  %s%s\n", path.c_str(), static_cast<unsigned long long>(all[k].value()), c.valid ? "" : "DAMAGED: ", c.detail.c_str());
    }
  }
  if (json) std::printf("]}\n");
  return status;
}

} // namespace mmsb::tool

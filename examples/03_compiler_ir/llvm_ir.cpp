// Reading liveness's view of textual LLVM IR (see llvm_ir.hpp for what is read and refused).
#include "llvm_ir.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ir {
namespace {

bool name_char(char c)
{
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '$' || c == '.' || c == '_';
}

// The line without its comment (';' outside a string constant) and trailing blanks.
std::string_view strip(std::string_view s)
{
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    else if (s[i] == ';' && !quoted) { s = s.substr(0, i); break; }
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

std::string_view trim_front(std::string_view s)
{
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  return s;
}

// A local name reference in an instruction: `%name`, and whether the word before it is `label`.
struct local_ref {
  std::string_view name;
  bool after_label;
  std::size_t at;  // offset of the '%'
};

// [] and () nesting balance of a piece of text, string constants skipped.
int bracket_balance(std::string_view s)
{
  int depth = 0;
  bool quoted = false;
  for (const char c : s) {
    if (c == '"') quoted = !quoted;
    else if (!quoted && (c == '[' || c == '(')) ++depth;
    else if (!quoted && (c == ']' || c == ')')) --depth;
  }
  return depth;
}

class reader {
public:
  explicit reader(std::string path) : path_(std::move(path)) {}

  std::vector<function> read()
  {
    std::ifstream in(path_);
    if (!in) throw std::runtime_error(path_ + ": cannot open (" + std::string(std::strerror(errno)) + ")");
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
    if (in.bad()) throw std::runtime_error(path_ + ": read error");
    // Module-level named types (`%name = type ...`): a `%name` in a body that is one is no value.
    for (const auto& l : lines)
      if (l.size() > 1 && l[0] == '%' && l.find("= type") != std::string::npos) {
        std::size_t e = 1;
        while (e < l.size() && name_char(l[e])) ++e;
        types_.emplace(l.substr(1, e - 1));
      }
    std::vector<function> out;
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i].rfind("define ", 0) == 0) out.push_back(read_function(lines, i));
    return out;
  }

private:
  [[noreturn]] void fail(std::uint32_t line, const std::string& what) const
  {
    throw ll_error(path_ + ":" + std::to_string(line) + ": " + what);
  }

  // Every `%name` in s (string constants skipped); a quoted name is refused.
  std::vector<local_ref> refs(std::string_view s, std::uint32_t line) const
  {
    std::vector<local_ref> r;
    bool quoted = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '"') { quoted = !quoted; continue; }
      if (quoted || s[i] != '%') continue;
      if (i + 1 < s.size() && s[i + 1] == '"') fail(line, "quoted local name (%\"...\") is not supported");
      std::size_t e = i + 1;
      while (e < s.size() && name_char(s[e])) ++e;
      if (e == i + 1) continue;  // a lone '%' (an operator in a constant expression does not exist, but be safe)
      std::string_view before = s.substr(0, i);
      while (!before.empty() && before.back() == ' ') before.remove_suffix(1);
      const bool after_label = before.size() >= 5 && before.substr(before.size() - 5) == "label" &&
                               (before.size() == 5 || !name_char(before[before.size() - 6]));
      r.push_back({s.substr(i + 1, e - i - 1), after_label, i});
      i = e - 1;
    }
    return r;
  }

  struct raw_instruction {
    std::string def;   // the defined value's name, or empty
    std::string text;  // after `%def = `
    std::uint32_t line;
  };
  struct raw_block {
    std::string name;
    std::uint32_t line;
    std::vector<raw_instruction> code;
    bool terminated = false;
  };

  function read_function(const std::vector<std::string>& lines, std::size_t& i)
  {
    function f;
    f.file = path_;
    f.line = static_cast<std::uint32_t>(i + 1);
    const std::string_view def = strip(lines[i]);
    const auto at = def.find('@');
    const auto open = def.find('(', at == std::string_view::npos ? 0 : at);
    if (at == std::string_view::npos || open == std::string_view::npos) fail(f.line, "define without @name(...)");
    if (def[at + 1] == '"') fail(f.line, "quoted function name (@\"...\") is not supported");
    f.name = std::string(def.substr(at + 1, open - at - 1));
    if (def.empty() || def.back() != '{') fail(f.line, "define of @" + f.name + " without '{' at the end of its line");
    std::unordered_map<std::string, std::uint32_t> value_of;
    std::uint32_t next_number = 0;  // LLVM numbers unnamed arguments, blocks and results in order
    const auto define_value = [&](std::string name, std::uint32_t line) {
      if (!value_of.emplace(name, static_cast<std::uint32_t>(f.values.size())).second) fail(line, "%" + name + " is defined twice");
      if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
        next_number = static_cast<std::uint32_t>(std::stoul(name)) + 1;
      f.values.push_back(std::move(name));
    };
    // Arguments: the last word of each top-level, comma-separated parameter.
    {
      std::size_t close = open;
      int depth = 0;
      for (; close < def.size(); ++close) {
        if (def[close] == '(' || def[close] == '[' || def[close] == '{' || def[close] == '<') ++depth;
        else if (def[close] == ')' || def[close] == ']' || def[close] == '}' || def[close] == '>') {
          if (--depth == 0) break;
        }
      }
      if (close >= def.size()) fail(f.line, "unbalanced parameter list of @" + f.name);
      std::size_t start = open + 1;
      depth = 0;
      for (std::size_t k = open + 1; k <= close; ++k) {
        const char c = def[k];
        if (k < close && (c == '(' || c == '[' || c == '{' || c == '<')) ++depth;
        else if (k < close && (c == ')' || c == ']' || c == '}' || c == '>')) --depth;
        else if ((c == ',' && depth == 0) || k == close) {
          std::string_view p = trim_front(def.substr(start, k - start));
          while (!p.empty() && p.back() == ' ') p.remove_suffix(1);
          if (!p.empty() && p != "...") {
            const auto sp = p.rfind(' ');
            const std::string_view last = sp == std::string_view::npos ? p : p.substr(sp + 1);
            if (last.size() > 1 && last[0] == '%' && sp != std::string_view::npos) {
              if (last[1] == '"') fail(f.line, "quoted argument name (%\"...\") is not supported");
              define_value(std::string(last.substr(1)), f.line);
            } else {
              define_value(std::to_string(next_number), f.line);  // an unnamed argument
            }
          }
          start = k + 1;
        }
      }
      f.arguments = static_cast<std::uint32_t>(f.values.size());
    }

    // The body: blocks of instructions, an instruction continued while its brackets are open.
    std::vector<raw_block> blocks;
    std::string entry_number;  // the number of an unnamed entry block
    bool closed = false;
    for (++i; i < lines.size(); ++i) {
      const auto line = static_cast<std::uint32_t>(i + 1);
      std::string_view l = strip(lines[i]);
      if (trim_front(l).empty()) continue;
      if (l == "}") { closed = true; break; }
      if (l[0] != ' ' && l[0] != '\t') {  // a label
        if (l[0] == '"') fail(line, "quoted block label is not supported");
        std::size_t e = 0;
        while (e < l.size() && name_char(l[e])) ++e;
        if (e == 0 || e >= l.size() || l[e] != ':' || !trim_front(l.substr(e + 1)).empty())
          fail(line, "expected a block label or an indented instruction in @" + f.name + ", found '" + std::string(l) + "'");
        blocks.push_back({std::string(l.substr(0, e)), line, {}, false});
        continue;
      }
      if (blocks.empty()) {  // the unnamed entry block takes the next number: `br label %N` may name it
        entry_number = std::to_string(next_number++);
        blocks.push_back({"", line, {}, false});
      }
      raw_block& b = blocks.back();
      if (b.terminated) fail(line, "instruction after the terminator of block " + label(b.name));
      std::string text(trim_front(l));
      for (int depth = bracket_balance(text); depth > 0;) {  // a switch's case list spans lines
        if (++i >= lines.size()) fail(line, "unterminated instruction (unbalanced brackets)");
        const std::string_view more = strip(lines[i]);
        depth += bracket_balance(more);
        text += ' ';
        text += trim_front(more);
      }
      std::string_view body = text;
      std::string def_name;
      if (body[0] == '%') {
        const auto eq = body.find(" = ");
        if (eq == std::string_view::npos) fail(line, "expected '%name = ...'");
        if (body[1] == '"') fail(line, "quoted value name (%\"...\") is not supported");
        def_name = std::string(body.substr(1, eq - 1));
        body = body.substr(eq + 3);
      }
      std::string_view op = body.substr(0, body.find(' '));
      for (const std::string_view prefix : {"tail", "musttail", "notail"})
        if (op == prefix) op = trim_front(body.substr(op.size())).substr(0, trim_front(body.substr(op.size())).find(' '));
      for (const std::string_view unsupported : {"invoke", "callbr", "landingpad", "catchswitch", "cleanuppad", "catchpad",
                                                 "catchret", "cleanupret"})
        if (op == unsupported) fail(line, "'" + std::string(op) + "' (exception handling) is not supported");
      if (!def_name.empty()) define_value(def_name, line);
      b.code.push_back({def_name, std::string(body), line});
      b.terminated = op == "ret" || op == "br" || op == "switch" || op == "indirectbr" || op == "unreachable" || op == "resume";
    }
    if (!closed) fail(f.line, "the body of @" + f.name + " has no closing '}'");
    if (blocks.empty()) fail(f.line, "@" + f.name + " has no blocks");

    std::unordered_map<std::string, std::uint32_t> block_of;
    for (std::uint32_t k = 0; k < blocks.size(); ++k) {
      if (!blocks[k].terminated) fail(blocks[k].line, "block " + label(blocks[k].name) + " of @" + f.name + " has no terminator");
      if (value_of.count(blocks[k].name) != 0) fail(blocks[k].line, "block label %" + blocks[k].name + " is also a value");
      if (!block_of.emplace(blocks[k].name.empty() ? entry_number : blocks[k].name, k).second) fail(blocks[k].line, "block label %" + blocks[k].name + " is defined twice");
    }

    // Second pass: every name resolved, now that every value and label of the function is known.
    f.blocks.resize(blocks.size());
    for (std::uint32_t k = 0; k < blocks.size(); ++k) {
      basic_block& out = f.blocks[k];
      out.name = blocks[k].name.empty() ? "entry" : blocks[k].name;
      for (std::size_t n = 0; n < blocks[k].code.size(); ++n) {
        const auto& raw = blocks[k].code[n];
        instruction ins;
        ins.line = raw.line;
        const std::string_view text = raw.text;
        if (!raw.def.empty()) ins.def = value_of.at(raw.def);
        const bool terminator = n + 1 == blocks[k].code.size();
        ins.phi = text.rfind("phi ", 0) == 0;
        if (ins.phi) read_phi(text, ins, value_of, block_of, f.name);
        for (const auto& r : ins.phi ? std::vector<local_ref>{} : refs(text, raw.line)) {
          const std::string name(r.name);
          if (const auto v = value_of.find(name); v != value_of.end()) {
            ins.uses.push_back(v->second);
          } else if (const auto b = block_of.find(name); b != block_of.end()) {
            if (terminator && r.after_label && std::find(out.succ.begin(), out.succ.end(), b->second) == out.succ.end())
              out.succ.push_back(b->second);
          } else if (types_.count(name) == 0) {
            fail(raw.line, "%" + name + " is neither a value, a block nor a type of @" + f.name);
          }
        }
        out.code.push_back(std::move(ins));
      }
      if (k > 0 && blocks[k].name.empty()) fail(blocks[k].line, "unnamed block after the entry block");
    }
    for (std::uint32_t k = 0; k < f.blocks.size(); ++k)
      for (const auto s : f.blocks[k].succ) f.blocks[s].pred.push_back(k);
    for (std::uint32_t k = 0; k < f.blocks.size(); ++k)
      for (const auto& ins : f.blocks[k].code)
        for (const auto& [v, p] : ins.incoming)
          if (std::find(f.blocks[k].pred.begin(), f.blocks[k].pred.end(), p) == f.blocks[k].pred.end())
            fail(ins.line, "phi in block %" + f.blocks[k].name + " names %" + f.blocks[p].name + ", which is not a predecessor");
    return f;
  }

  // `phi <type> [ v, %pred ], ...`: each top-level bracket group with a comma is one incoming pair.
  void read_phi(std::string_view text, instruction& ins, const std::unordered_map<std::string, std::uint32_t>& value_of,
                const std::unordered_map<std::string, std::uint32_t>& block_of, const std::string& fn) const
  {
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t k = 0; k < text.size(); ++k) {
      const char c = text[k];
      if (c == '[' || c == '(') {
        if (depth++ == 0 && c == '[') start = k + 1;
      } else if (c == ']' || c == ')') {
        if (--depth != 0 || c != ']') continue;
        const std::string_view group = text.substr(start, k - start);
        int d = 0;
        std::size_t comma = std::string_view::npos;
        for (std::size_t g = 0; g < group.size(); ++g) {
          if (group[g] == '[' || group[g] == '(') ++d;
          else if (group[g] == ']' || group[g] == ')') --d;
          else if (group[g] == ',' && d == 0) comma = g;
        }
        if (comma == std::string_view::npos) continue;  // an array type, not an incoming pair
        const auto pred_refs = refs(group.substr(comma + 1), ins.line);
        if (pred_refs.size() != 1) fail(ins.line, "phi incoming pair '[" + std::string(group) + "]' without one %block");
        const auto b = block_of.find(std::string(pred_refs[0].name));
        if (b == block_of.end()) fail(ins.line, "phi incoming block %" + std::string(pred_refs[0].name) + " is not a block of @" + fn);
        for (const auto& r : refs(group.substr(0, comma), ins.line)) {
          const std::string name(r.name);
          if (const auto v = value_of.find(name); v != value_of.end()) ins.incoming.emplace_back(v->second, b->second);
          else if (types_.count(name) == 0) fail(ins.line, "phi incoming %" + name + " is neither a value nor a type of @" + fn);
        }
      }
    }
  }

  static std::string label(const std::string& name) { return name.empty() ? std::string("entry") : "%" + name; }

  std::string path_;
  std::unordered_set<std::string> types_;
};

} // namespace

std::vector<function> read_ll(const std::string& path) { return reader(path).read(); }

std::vector<std::string> ll_files(const std::string& path)
{
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return {path};
  if (!fs::is_directory(path, ec)) throw std::runtime_error(path + ": neither a .ll file nor a directory");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file() && e.path().extension() == ".ll") files.push_back(e.path().string());
  if (ec) throw std::runtime_error(path + ": cannot list (" + ec.message() + ")");
  if (files.empty()) throw std::runtime_error(path + ": a directory with no .ll files");
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace ir

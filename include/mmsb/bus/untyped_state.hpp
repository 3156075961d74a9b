// untyped_state: a store's pages held as bytes, with the semiring and layout chosen at run time
// from the store's shape descriptor rather than from template arguments. It lets a program that
// was compiled without a store's types (the mmsb tool) rebuild, hash and print its state.
//
//   builtin_law(shape)   the run-time law for a shape whose semiring is a built-in one
//                        (semiring/builtins.hpp: plus_times, min_plus, max_plus, max_min over
//                        i8..i64, u8..u64, f32, f64; or_and over bool, dense or bits<N>).
//                        Each law is the built-in's own apply_element, instantiated once per
//                        (semiring, element type); only the extent is a run-time value. Throws
//                        mmsb::error (unsupported) for any other shape, naming it: a custom
//                        semiring's ⊕ exists only in the program that defined it.
//   untyped_state        pages (id, epoch, storage bytes) in ascending id order;
//                        load_page() takes a checkpoint's page, apply_commit() a commit record's
//                        payload (log/commit_record.hpp: each delta in delta/codec.hpp's wire
//                        form, versions 1 and 2), hash() is core/state_hash.hpp's hash over
//                        every page's storage bytes: what durable_store::replay_to() and, for a
//                        store without topology, basic_bus::hash_at() report for the same epoch.
//
// Bad bytes are mmsb::error (corrupt, size_mismatch, bad_format) naming the epoch, the page and
// the size at fault, never a crash; a commit is checked whole before any of it is applied, so a
// failed apply_commit leaves the state as it was. Pages hold the host's byte order, as the
// library's pages (and hence checkpoints) do.
#pragma once

#include <mmsb/bus/shape_info.hpp>
#include <mmsb/config/error.hpp>
#include <mmsb/core/bits.hpp>
#include <mmsb/core/ids.hpp>
#include <mmsb/core/span.hpp>
#include <mmsb/core/state_hash.hpp>
#include <mmsb/delta/codec.hpp>
#include <mmsb/delta/element.hpp>
#include <mmsb/log/commit_record.hpp>
#include <mmsb/log/record.hpp>
#include <mmsb/semiring/builtins.hpp>
#include <mmsb/semiring/name.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

namespace mmsb {

// One built-in semiring over one element type, behind function pointers. Slots are
// `value_bytes` wide in memory and on the wire (a bool is one byte, 0 or 1).
struct untyped_law {
  std::string semiring;          // the semiring's name, as in the descriptor
  std::size_t value_bytes = 0;   // bytes of one slot, in memory and on the wire
  void (*zero)(std::byte* slot) = nullptr;                                   // slot := 0̄
  bool (*valid)(const std::byte* wire) = nullptr;                            // a wire value in the domain
  void (*apply)(std::byte* slot, bool assign, const std::byte* wire) = nullptr;  // x := assign ? v : x ⊕ v
  std::string (*format)(const std::byte* slot) = nullptr;                    // the value as text
};

namespace detail {

template <class Semiring>
struct untyped_law_of {
  using T = semiring_value_t<Semiring>;
  using V = wire_t<T>;
  static T load(const std::byte* slot) noexcept
  {
    T v;
    std::memcpy(&v, slot, sizeof v);
    return v;
  }
  static void zero(std::byte* slot) noexcept
  {
    const T z = semiring_traits<Semiring>::zero();
    std::memcpy(slot, &z, sizeof z);
  }
  static bool valid(const std::byte* wire) noexcept
  {
    if constexpr (std::is_same_v<T, bool>) return get_le<V>(wire) <= 1;
    else return true;
  }
  static void apply(std::byte* slot, bool assign, const std::byte* wire) noexcept
  {
    const T r = apply_element<Semiring>(load(slot), assign, static_cast<T>(get_le<V>(wire)));
    std::memcpy(slot, &r, sizeof r);
  }
  static std::string format(const std::byte* slot)
  {
    const T v = load(slot);
    if constexpr (std::is_same_v<T, bool>) return v ? "1" : "0";
    else if constexpr (std::is_floating_point_v<T>) {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
      return std::string(buf, r.ptr);
    } else if constexpr (std::is_signed_v<T>) return std::to_string(static_cast<long long>(v));
    else return std::to_string(static_cast<unsigned long long>(v));
  }
  static untyped_law make()
  {
    return {std::string(semiring_name_v<Semiring>), sizeof(V), &zero, &valid, &apply, &format};
  }
};

template <template <class> class Family, class... Ts>
bool find_law(const shape_info& s, untyped_law& out)
{
  return ((semiring_name_v<Family<Ts>> == s.semiring && element_name_v<Ts> == s.element && sizeof(Ts) == s.element_bytes &&
           (out = untyped_law_of<Family<Ts>>::make(), true)) ||
          ...);
}

template <template <class> class Family>
bool find_family_law(const shape_info& s, untyped_law& out)
{
  return find_law<Family, std::int8_t, std::int16_t, std::int32_t, std::int64_t, std::uint8_t, std::uint16_t, std::uint32_t,
                  std::uint64_t, float, double>(s, out);
}
} // namespace detail

// The semirings builtin_law knows, in words (for messages and usage text).
inline constexpr const char* builtin_laws_words =
  "plus_times, min_plus, max_plus, max_min over i8..i64, u8..u64, f32, f64; or_and over bool (dense or bits)";

// The law of a built-in semiring for shape s. Throws mmsb::error: unsupported for any other
// semiring (naming the shape and builtin_laws_words), bad_format when page= cannot hold the extent.
[[nodiscard]] inline untyped_law builtin_law(const shape_info& s)
{
  untyped_law law;
  const bool bits = s.layout == layout_kind::bits;
  bool found = false;
  if (s.semiring == semiring_name_v<or_and>) {
    found = s.element == "bool" && s.element_bytes == 1;
    if (found) law = detail::untyped_law_of<or_and>::make();
  } else if (!bits) {
    found = detail::find_family_law<plus_times>(s, law) || detail::find_family_law<min_plus>(s, law) ||
            detail::find_family_law<max_plus>(s, law) || detail::find_family_law<max_min>(s, law);
  }
  if (!found)
    throw error(errc::unsupported, "cannot rebuild state for shape '" + s.text + "': only the built-in semirings (" +
                                     builtin_laws_words + ") can be replayed without the program's types");
  // Compared by division: an extent read from a file times the slot size must not overflow.
  const std::size_t slot_bytes = bits ? sizeof(word_t) : law.value_bytes;
  const std::size_t units = bits ? words_for(s.extent) : s.extent;
  if (slot_bytes == 0 || units > s.page_bytes / slot_bytes)
    throw error(errc::bad_format, "shape '" + s.text + "': page= " + std::to_string(s.page_bytes) + " bytes cannot hold " +
                                    std::to_string(s.extent) + " slots (" + std::to_string(units) + " x " +
                                    std::to_string(slot_bytes) + " bytes)");
  return law;
}

// Pages of one shape held as bytes, changed through its built-in semiring's law chosen at run
// time: what a replay builds without the program's types. Not thread-safe.
class untyped_state {
public:
  // One page: the epoch of its last change and its storage bytes.
  struct page_entry {
    mmsb::epoch epoch{};  // the epoch of the page's last committed change
    std::vector<std::byte> bytes;  // shape().page_bytes of storage
  };
  using page_map = std::map<std::uint32_t, page_entry>;  // by page id, in id order

  // No pages yet. Throws what builtin_law throws for a shape it cannot interpret.
  explicit untyped_state(shape_info shape) : shape_(std::move(shape)), law_(builtin_law(shape_)) {}

  // The shape every page has.
  [[nodiscard]] const shape_info& shape() const noexcept { return shape_; }
  // The semiring's law over one slot.
  [[nodiscard]] const untyped_law& law() const noexcept { return law_; }
  // Every page written so far (a page never written is at zero and absent).
  [[nodiscard]] const page_map& pages() const noexcept { return pages_; }

  // A checkpoint's page: its storage bytes as written. Throws (size_mismatch) for another size.
  void load_page(page_id id, mmsb::epoch e, span<const std::byte> bytes)
  {
    if (bytes.size() != shape_.page_bytes)
      throw error(errc::size_mismatch, "page " + std::to_string(id.value()) + " has " + std::to_string(bytes.size()) +
                                         " bytes; the shape's pages have " + std::to_string(shape_.page_bytes));
    pages_[id.value()] = {e, std::vector<std::byte>(bytes.begin(), bytes.end())};
  }

  // Applies one commit record's payload at epoch e, as recovery does: a page a delta names that
  // does not exist yet is created at 0̄, then every delta's slots change and its page takes
  // epoch e. Returns the commit's structure section (a view into payload; empty if none).
  span<const std::byte> apply_commit(mmsb::epoch e, span<const std::byte> payload)
  {
    const auto bad = [&](const std::string& why) {
      return error(errc::corrupt, "commit record at epoch " + std::to_string(e.value()) + " is " + why);
    };
    if (payload.size() < 4) throw bad("too short");
    const auto n = static_cast<std::uint32_t>(detail::load_le(payload.data(), 4));
    std::vector<change> changes;
    std::vector<std::uint32_t> targets;
    std::size_t off = 4;
    for (std::uint32_t k = 0; k < n; ++k) {
      if (payload.size() - off < 4) throw bad("truncated");
      const std::size_t len = detail::load_le(payload.data() + off, 4);
      off += 4;
      if (payload.size() - off < len) throw bad("truncated");
      targets.push_back(decode_delta(payload.subspan(off, len), changes));
      off += len;
    }
    span<const std::byte> structure;
    if (off != payload.size()) {
      if (payload.size() - off < 8 || detail::load_le(payload.data() + off, 4) != detail::commit_structure_tag)
        throw bad("followed by bytes that are not a structure section");
      if (payload.size() - off - 8 != detail::load_le(payload.data() + off + 4, 4)) throw bad("truncated in its structure section");
      structure = payload.subspan(off + 8);
    }
    // Everything checked: only now does the state change.
    for (const auto t : targets) {
      auto [it, fresh] = pages_.try_emplace(t);
      if (fresh) {
        it->second.bytes.assign(shape_.page_bytes, std::byte{0});
        if (shape_.layout != layout_kind::bits)
          for (std::size_t i = 0; i < shape_.extent; ++i) law_.zero(it->second.bytes.data() + i * law_.value_bytes);
      }
      it->second.epoch = e;
    }
    for (const auto& c : changes) apply_change(pages_.at(c.page).bytes.data(), c);
    return structure;
  }

  // The value of one slot as text (decimal; floats in their shortest exact form; bool 0 or 1).
  [[nodiscard]] std::string slot_text(const page_entry& p, std::size_t slot) const
  {
    if (shape_.layout == layout_kind::bits) return test_bit(words_of(p), slot) ? "1" : "0";
    return law_.format(p.bytes.data() + slot * law_.value_bytes);
  }
  // Whether two pages of this shape hold the same bits in one slot.
  [[nodiscard]] bool slot_equal(const page_entry& a, const page_entry& b, std::size_t slot) const
  {
    if (shape_.layout == layout_kind::bits) return test_bit(words_of(a), slot) == test_bit(words_of(b), slot);
    return std::memcmp(a.bytes.data() + slot * law_.value_bytes, b.bytes.data() + slot * law_.value_bytes, law_.value_bytes) == 0;
  }

  // The project's state hash over the pages in id order: equal to the typed store's hash for
  // the same pages.
  [[nodiscard]] state_hash hash() const
  {
    state_hasher h;
    for (const auto& [id, p] : pages_) h.add(page_id{id}, {p.bytes.data(), p.bytes.size()});
    return h.digest();
  }

private:
  struct change {
    std::uint32_t page;
    std::uint32_t slot;
    bool assign;
    const std::byte* value;  // wire bytes (law_.value_bytes; for bits a one-byte 0/1 or a bit below)
    bool bit = false;        // bits layout, dense form: the value is `bit`, not *value
  };

  static std::vector<word_t> words_of(const page_entry& p)
  {
    std::vector<word_t> w(p.bytes.size() / sizeof(word_t));
    std::memcpy(w.data(), p.bytes.data(), w.size() * sizeof(word_t));
    return w;
  }
  static bool test_bit(const std::vector<word_t>& w, std::size_t i) { return ((w[i / word_bits] >> (i % word_bits)) & 1u) != 0; }

  void apply_change(std::byte* page, const change& c) const
  {
    if (shape_.layout != layout_kind::bits) {
      law_.apply(page + std::size_t{c.slot} * law_.value_bytes, c.assign, c.value);
      return;
    }
    const std::byte v{static_cast<unsigned char>(c.value ? static_cast<unsigned char>(*c.value) : c.bit)};
    std::byte& b = page[c.slot / 8];
    const std::byte mask{static_cast<unsigned char>(1u << (c.slot % 8))};  // bit i of LE words: bit i%8 of byte i/8
    std::byte x{static_cast<unsigned char>((b & mask) != std::byte{0})};
    law_.apply(&x, c.assign, &v);
    b = x != std::byte{0} ? (b | mask) : (b & ~mask);
  }

  // Checks one delta's wire form against the shape and appends its changes; returns its page.
  std::uint32_t decode_delta(span<const std::byte> w, std::vector<change>& out) const
  {
    if (w.size() < delta_header_bytes)
      throw error(errc::size_mismatch, "delta of " + std::to_string(w.size()) + " bytes is shorter than its " +
                                         std::to_string(delta_header_bytes) + "-byte header");
    const auto version = static_cast<unsigned>(w[0]), kind = static_cast<unsigned>(w[1]), enc = static_cast<unsigned>(w[2]);
    const auto vsize = static_cast<std::size_t>(w[3]);
    const std::size_t extent = detail::load_le(w.data() + 4, 4), count = detail::load_le(w.data() + 12, 4);
    const auto page = static_cast<std::uint32_t>(detail::load_le(w.data() + 8, 4));
    const auto where = [&] { return "delta for page " + std::to_string(page); };
    if (version < delta_codec_oldest_version || version > delta_codec_version)
      throw error(errc::bad_format, where() + ": codec version " + std::to_string(version));
    if (kind != static_cast<unsigned>(shape_.layout) || extent != shape_.extent || vsize != law_.value_bytes)
      throw error(errc::size_mismatch, where() + " was built for " + std::to_string(extent) + " slots of " + std::to_string(vsize) +
                                         " bytes (layout kind " + std::to_string(kind) + "); the shape says " + shape_.text);
    if (count > extent) throw error(errc::invalid_argument, where() + ": " + std::to_string(count) + " changed slots in a page of " + std::to_string(extent));
    const std::byte* body = w.data() + delta_header_bytes;
    const std::size_t body_bytes = w.size() - delta_header_bytes;
    const auto wrong = [&](std::size_t expected) {
      return error(errc::size_mismatch, where() + ": body of " + std::to_string(body_bytes) + " bytes, expected " + std::to_string(expected));
    };
    const auto push = [&](std::size_t slot, bool assign, const std::byte* value, std::int64_t& last) {
      if (slot >= extent || static_cast<std::int64_t>(slot) <= last)
        throw error(errc::invalid_argument, where() + ": slot " + std::to_string(slot) + " out of order or past the extent " + std::to_string(extent));
      if (value && !law_.valid(value)) throw error(errc::invalid_argument, where() + ": slot " + std::to_string(slot) + " holds a value outside the domain");
      last = static_cast<std::int64_t>(slot);
      out.push_back({page, static_cast<std::uint32_t>(slot), assign, value});
    };
    std::int64_t last = -1;
    if (version == 1 && enc == 2) {  // version 1 sparse: count × (u32 slot | u8 op | value)
      const std::size_t entry = 5 + vsize;
      if (body_bytes != count * entry) throw wrong(count * entry);
      for (std::size_t k = 0; k < count; ++k) {
        const std::byte* e = body + k * entry;
        if (static_cast<unsigned>(e[4]) > 1) throw error(errc::invalid_argument, where() + ": entry " + std::to_string(k) + " has an unknown op");
        push(detail::load_le(e, 4), e[4] == std::byte{1}, e + 5, last);
      }
      return page;
    }
    if (version == 2 && enc >= 2 && enc <= 4) {  // sparse columns: slots, values, [op bits]
      const bool mixed = enc == 4;
      const std::size_t expected = count * (4 + vsize) + (mixed ? (count + 7) / 8 : 0);
      if (body_bytes != expected) throw wrong(expected);
      const std::byte* values = body + count * 4;
      const std::byte* ops = values + count * vsize;
      for (std::size_t k = 0; k < count; ++k) {
        const bool assign = mixed ? ((static_cast<unsigned>(ops[k / 8]) >> (k % 8)) & 1u) != 0 : enc == 3;
        push(detail::load_le(body + k * 4, 4), assign, values + k * vsize, last);
      }
      return page;
    }
    if (enc != 1) throw error(errc::bad_format, where() + ": unknown encoding " + std::to_string(enc));
    const std::size_t words = words_for(extent);  // dense: mask words, assign words, payload
    const bool bits = shape_.layout == layout_kind::bits;
    const std::size_t expected = 2 * words * sizeof(word_t) + (bits ? words * sizeof(word_t) : extent * vsize);
    if (body_bytes != expected) throw wrong(expected);
    const std::byte* payload = body + 2 * words * sizeof(word_t);
    // As decode() refuses them: mask bits past the extent, and a payload in an unmasked slot.
    const auto tail_bit = [&](const std::byte* base, std::size_t i) { return ((static_cast<unsigned>(base[i / 8]) >> (i % 8)) & 1u) != 0; };
    for (std::size_t i = extent; i < words * word_bits; ++i)
      if (tail_bit(body, i) || tail_bit(body + words * sizeof(word_t), i) || (bits && tail_bit(payload, i)))
        throw error(errc::invalid_argument, where() + ": assign or mask bits outside the page's masked slots (word " + std::to_string(i / word_bits) + ")");
    std::size_t masked = 0;
    for (std::size_t i = 0; i < extent; ++i) {
      const auto bit = [&](const std::byte* base) { return ((static_cast<unsigned>(base[i / 8]) >> (i % 8)) & 1u) != 0; };
      const bool m = bit(body), a = bit(body + words * sizeof(word_t));
      if (a && !m) throw error(errc::invalid_argument, where() + ": assign bit outside the mask at slot " + std::to_string(i));
      if (!m) {
        const std::byte* v = bits ? nullptr : payload + i * vsize;
        if (bits ? bit(payload) : std::any_of(v, v + vsize, [](std::byte b) { return b != std::byte{0}; }))
          throw error(errc::invalid_argument, where() + ": slot " + std::to_string(i) + " has a payload but is not masked");
        continue;
      }
      ++masked;
      if (bits) {
        out.push_back({page, static_cast<std::uint32_t>(i), a, nullptr, bit(payload)});
      } else {
        push(i, a, payload + i * vsize, last);
      }
    }
    if (masked != count)
      throw error(errc::invalid_argument, where() + ": header says " + std::to_string(count) + " changed slots, the mask has " + std::to_string(masked));
    return page;
  }

  shape_info shape_;
  untyped_law law_;
  page_map pages_;
};

} // namespace mmsb

#pragma once
/// \file
/// safetensors: reader and writer, with no tensor library.
///
/// A safetensors file is an 8-byte little-endian header length N, a JSON object of N bytes
/// `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
/// "__metadata__": {"key": "value"}}`, then the raw little-endian tensor bytes; offsets are
/// relative to the start of that data. rltf validates every field — header length within the file,
/// a JSON object with unique keys, known dtypes, shapes whose size matches the byte span, offsets in
/// bounds, tensors neither overlapping nor leaving holes, `__metadata__` a string → string map —
/// and reports each fault as an rltf::parse_error naming the file and the tensor (field).
///
/// \code
/// auto file = rltf::safetensors::File::open("model.safetensors");
/// for (const auto& t : file.tensors()) std::cout << t.name << " " << rltf::to_string(t.shape) << "\n";
/// std::vector<float> wte = file.to_f32("transformer.wte.weight"); // F32, F16 or BF16 → float
///
/// std::vector<float> w = {1, 2, 3, 4, 5, 6};
/// rltf::safetensors::TensorData entry{"w", rltf::safetensors::Dtype::F32, {2, 3}, rltf::safetensors::as_bytes(w)};
/// rltf::safetensors::save("out.safetensors", std::span(&entry, 1), {{"format", "pt"}});
/// \endcode

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rltf/core/error.hpp"
#include "rltf/core/shape.hpp"
#include "rltf/detail/atomic_file.hpp"
#include "rltf/detail/json.hpp"
#include "rltf/formats/detail/half.hpp"
#include "rltf/formats/detail/mapped_file.hpp"

namespace rltf::safetensors {

static_assert(std::endian::native == std::endian::little,
              "rltf: the safetensors reader and writer assume a little-endian host");

/// Element types of the safetensors format.
enum class Dtype : std::uint8_t { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

/// The format's name of a dtype ("F32", "BF16", ...).
[[nodiscard]] constexpr std::string_view dtype_name(Dtype d) noexcept {
  constexpr std::string_view names[] = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                        "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};
  return names[static_cast<std::size_t>(d)];
}

/// Bytes per element.
[[nodiscard]] constexpr std::size_t dtype_size(Dtype d) noexcept {
  constexpr std::size_t sizes[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};
  return sizes[static_cast<std::size_t>(d)];
}

/// The dtype named `name`, if the format knows it.
[[nodiscard]] inline std::optional<Dtype> dtype_from_name(std::string_view name) noexcept {
  for (std::uint8_t i = 0; i <= static_cast<std::uint8_t>(Dtype::U64); ++i)
    if (dtype_name(static_cast<Dtype>(i)) == name) return static_cast<Dtype>(i);
  return std::nullopt;
}

/// Largest header accepted (the format's reference implementation uses the same bound).
inline constexpr std::uint64_t max_header_size = 100'000'000;

/// One tensor described by a header. Offsets are relative to the start of the data section.
struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  Shape shape;
  std::size_t begin = 0; ///< first byte, relative to the data section
  std::size_t end = 0;   ///< one past the last byte
  [[nodiscard]] std::size_t nbytes() const noexcept { return end - begin; }
  [[nodiscard]] std::int64_t numel() const noexcept { return rltf::numel(shape); }
};

/// A validated header: the tensors in the order of their data, and the metadata.
struct Header {
  std::vector<TensorInfo> tensors;             ///< sorted by data offset
  std::map<std::string, std::string> metadata; ///< the `__metadata__` map (empty when absent)
  std::size_t data_start = 0;                  ///< 8 + header length: where the data section begins
  std::size_t data_size = 0;                   ///< bytes in the data section

  /// The tensor called `name`, or nullptr.
  [[nodiscard]] const TensorInfo* find(std::string_view name) const noexcept {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

namespace detail {

[[noreturn]] inline void fail(std::string_view source, std::string field, const std::string& what) {
  throw parse_error(std::string(source), 0, std::move(field), what);
}

using rltf::detail::json_brief;

/// A non-negative integer that fits in 64 bits, else a parse_error naming `field`.
inline std::uint64_t json_unsigned(const nlohmann::json& value, std::string_view source, const std::string& field) {
  const std::string file(source);
  return rltf::detail::expect_unsigned(value, {file, 0}, field);
}

/// Parses JSON and rejects duplicate keys in any object (nlohmann would silently keep the last).
inline nlohmann::json parse_json_unique(std::string_view text, std::string_view source) {
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    switch (event) {
    case nlohmann::json::parse_event_t::object_start:
      keys.emplace_back();
      break;
    case nlohmann::json::parse_event_t::object_end:
      if (!keys.empty()) keys.pop_back();
      break;
    case nlohmann::json::parse_event_t::key:
      if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
        duplicate = parsed.get<std::string>();
      break;
    default:
      break;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    fail(source, "header", std::string("the header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) fail(source, duplicate, "the key appears more than once in the header");
  return header;
}

} // namespace detail

/// Parses and validates the header of a complete safetensors file held in `file`. `source` names
/// the file in error messages. Every fault throws rltf::parse_error naming the file and the tensor.
[[nodiscard]] inline Header parse_header(std::span<const std::byte> file, std::string_view source = "<memory>") {
  using detail::fail;
  if (file.size() < 8)
    fail(source, "header length",
         "the file is " + std::to_string(file.size()) + " bytes; a safetensors file starts with an 8-byte length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(file[static_cast<std::size_t>(i)]);
  if (n > max_header_size)
    fail(source, "header length",
         "the header length is " + std::to_string(n) + " bytes, more than the limit of " +
             std::to_string(max_header_size));
  if (n > file.size() - 8)
    fail(source, "header length",
         "the header length is " + std::to_string(n) + " bytes but only " + std::to_string(file.size() - 8) +
             " bytes follow the length");
  if (n < 2) fail(source, "header", "the header is " + std::to_string(n) + " bytes; it must hold a JSON object");
  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), static_cast<std::size_t>(n));
  const nlohmann::json json = detail::parse_json_unique(text, source);
  if (!json.is_object())
    fail(source, "header", std::string("the header must be a JSON object, not ") + json.type_name());

  Header header;
  header.data_start = 8 + static_cast<std::size_t>(n);
  header.data_size = file.size() - header.data_start;
  for (const auto& [key, value] : json.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail(source, key, "must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          fail(source, "__metadata__." + mk, "metadata values must be strings, got " + detail::json_brief(mv));
        header.metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    if (key.empty()) fail(source, key, "a tensor name must not be empty");
    if (!value.is_object()) fail(source, key, "a tensor entry must be an object with dtype, shape and data_offsets");
    for (const auto& [field, unused] : value.items()) {
      (void)unused;
      if (field != "dtype" && field != "shape" && field != "data_offsets")
        fail(source, key + "." + field, "unknown field in a tensor entry (expected dtype, shape, data_offsets)");
    }
    TensorInfo info;
    info.name = key;

    const auto dtype_it = value.find("dtype");
    if (dtype_it == value.end()) fail(source, key + ".dtype", "missing");
    if (!dtype_it->is_string()) fail(source, key + ".dtype", "must be a string, got " + detail::json_brief(*dtype_it));
    const auto dtype = dtype_from_name(dtype_it->get<std::string>());
    if (!dtype) fail(source, key + ".dtype", "unknown dtype " + detail::json_brief(*dtype_it));
    info.dtype = *dtype;

    const auto shape_it = value.find("shape");
    if (shape_it == value.end()) fail(source, key + ".shape", "missing");
    if (!shape_it->is_array())
      fail(source, key + ".shape", "must be an array of dimensions, got " + detail::json_brief(*shape_it));
    for (const auto& dim : *shape_it) {
      const std::uint64_t d = detail::json_unsigned(dim, source, key + ".shape");
      if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail(source, key + ".shape", "dimension " + std::to_string(d) + " is too large");
      info.shape.push_back(static_cast<std::int64_t>(d));
    }
    const std::uint64_t element_size = dtype_size(info.dtype);
    std::uint64_t elements = 1;
    if (std::ranges::find(info.shape, 0) != info.shape.end()) {
      elements = 0;
    } else {
      for (const std::int64_t d : info.shape) {
        const auto ud = static_cast<std::uint64_t>(d);
        if (elements > std::numeric_limits<std::uint64_t>::max() / element_size / ud)
          fail(source, key + ".shape", "the shape " + to_string(info.shape) + " overflows a 64-bit byte count");
        elements *= ud;
      }
    }

    const auto offsets_it = value.find("data_offsets");
    if (offsets_it == value.end()) fail(source, key + ".data_offsets", "missing");
    if (!offsets_it->is_array() || offsets_it->size() != 2)
      fail(source, key + ".data_offsets", "must be an array [begin, end], got " + detail::json_brief(*offsets_it));
    const std::uint64_t begin = detail::json_unsigned((*offsets_it)[0], source, key + ".data_offsets");
    const std::uint64_t end = detail::json_unsigned((*offsets_it)[1], source, key + ".data_offsets");
    if (begin > end)
      fail(source, key + ".data_offsets", "begin " + std::to_string(begin) + " is after end " + std::to_string(end));
    if (end > header.data_size)
      fail(source, key + ".data_offsets",
           "end " + std::to_string(end) + " is past the data section, which has " + std::to_string(header.data_size) +
               " bytes");
    if (end - begin != elements * element_size)
      fail(source, key,
           "shape " + to_string(info.shape) + " of " + std::string(dtype_name(info.dtype)) + " needs " +
               std::to_string(elements * element_size) + " bytes but data_offsets span " + std::to_string(end - begin));
    info.begin = static_cast<std::size_t>(begin);
    info.end = static_cast<std::size_t>(end);
    header.tensors.push_back(std::move(info));
  }

  std::ranges::sort(header.tensors, [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::size_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& t : header.tensors) {
    if (t.begin < covered)
      fail(source, t.name,
           "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ") overlap tensor '" +
               (previous ? previous->name : std::string()) + "'");
    if (t.begin > covered)
      fail(source, t.name,
           "data_offsets begin at " + std::to_string(t.begin) + " but the previous tensor ends at " +
               std::to_string(covered) + ": the data section has a hole");
    covered = t.end;
    previous = &t;
  }
  if (covered != header.data_size)
    fail(source, "data_offsets",
         "the tensors cover " + std::to_string(covered) + " bytes but the data section has " +
             std::to_string(header.data_size) + " bytes");
  return header;
}

/// The float32 values of `bytes` holding elements of `dtype` (F32, F16, BF16 or F64).
[[nodiscard]] inline std::vector<float> to_f32(Dtype dtype, std::span<const std::byte> bytes) {
  const std::size_t size = dtype_size(dtype);
  if (bytes.size() % size != 0)
    throw invalid_argument("safetensors::to_f32: " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                           std::string(dtype_name(dtype)) + " elements");
  std::vector<float> out(bytes.size() / size);
  switch (dtype) {
  case Dtype::F32:
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    break;
  case Dtype::F64:
    for (std::size_t i = 0; i < out.size(); ++i) {
      double v = 0;
      std::memcpy(&v, bytes.data() + i * 8, 8);
      out[i] = static_cast<float>(v);
    }
    break;
  case Dtype::F16:
  case Dtype::BF16:
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::uint16_t v = 0;
      std::memcpy(&v, bytes.data() + i * 2, 2);
      out[i] = dtype == Dtype::F16 ? rltf::formats::detail::f16_to_f32(v) : rltf::formats::detail::bf16_to_f32(v);
    }
    break;
  default:
    throw invalid_argument("safetensors::to_f32: cannot convert " + std::string(dtype_name(dtype)) +
                           " to float (F32, F16, BF16 and F64 can be)");
  }
  return out;
}

/// `values` encoded as `dtype` (F32, F16, BF16 or F64; F16/BF16 round to nearest even).
[[nodiscard]] inline std::vector<std::byte> from_f32(Dtype dtype, std::span<const float> values) {
  std::vector<std::byte> out(values.size() * dtype_size(dtype));
  switch (dtype) {
  case Dtype::F32:
    if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
    break;
  case Dtype::F64:
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double v = values[i];
      std::memcpy(out.data() + i * 8, &v, 8);
    }
    break;
  case Dtype::F16:
  case Dtype::BF16:
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::uint16_t v = dtype == Dtype::F16 ? rltf::formats::detail::f32_to_f16(values[i])
                                                  : rltf::formats::detail::f32_to_bf16(values[i]);
      std::memcpy(out.data() + i * 2, &v, 2);
    }
    break;
  default:
    throw invalid_argument("safetensors::from_f32: cannot encode float as " + std::string(dtype_name(dtype)) +
                           " (F32, F16, BF16 and F64 can be)");
  }
  return out;
}

/// The int64 values of `bytes` holding I64, I32, U8 or BOOL elements.
[[nodiscard]] inline std::vector<std::int64_t> to_i64(Dtype dtype, std::span<const std::byte> bytes) {
  const std::size_t size = dtype_size(dtype);
  if (bytes.size() % size != 0)
    throw invalid_argument("safetensors::to_i64: " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                           std::string(dtype_name(dtype)) + " elements");
  std::vector<std::int64_t> out(bytes.size() / size);
  for (std::size_t i = 0; i < out.size(); ++i) {
    switch (dtype) {
    case Dtype::I64:
      std::memcpy(&out[i], bytes.data() + i * 8, 8);
      break;
    case Dtype::I32: {
      std::int32_t v = 0;
      std::memcpy(&v, bytes.data() + i * 4, 4);
      out[i] = v;
      break;
    }
    case Dtype::U8:
    case Dtype::BOOL:
      out[i] = std::to_integer<std::int64_t>(bytes[i]);
      break;
    default:
      throw invalid_argument("safetensors::to_i64: cannot convert " + std::string(dtype_name(dtype)) +
                             " to int64 (I64, I32, U8 and BOOL can be)");
    }
  }
  return out;
}

/// The bytes of a contiguous range of trivially copyable values (for TensorData).
template <class T>
requires std::is_trivially_copyable_v<T>
[[nodiscard]] std::span<const std::byte> as_bytes(std::span<const T> values) noexcept { return std::as_bytes(values); }
/// \overload
template <class T>
requires std::is_trivially_copyable_v<T>
[[nodiscard]] std::span<const std::byte> as_bytes(const std::vector<T>& values) noexcept {
  return std::as_bytes(std::span<const T>(values));
}

/// A parsed safetensors file: owns (or maps) the bytes and gives typed access to each tensor.
/// Move-only; the spans it hands out stay valid while it lives.
class File {
public:
  /// Maps (or reads) `path` and validates its header. Throws io_error when the file cannot be
  /// read and parse_error when it is malformed.
  [[nodiscard]] static File open(const std::filesystem::path& path) {
    File f;
    f.source_ = path.string();
    f.storage_ = rltf::formats::detail::MappedFile::open(path);
    f.header_ = parse_header(f.storage_.bytes(), f.source_);
    return f;
  }

  /// Takes ownership of a complete file held in memory. `source` names it in error messages.
  [[nodiscard]] static File from_bytes(std::vector<std::byte> bytes, std::string source = "<memory>") {
    File f;
    f.source_ = std::move(source);
    f.storage_ = rltf::formats::detail::MappedFile::adopt(std::move(bytes));
    f.header_ = parse_header(f.storage_.bytes(), f.source_);
    return f;
  }

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() = default;

  /// The file name given to open() or from_bytes().
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  [[nodiscard]] const Header& header() const noexcept { return header_; }
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept { return header_.metadata; }
  /// Every tensor, in the order of their data.
  [[nodiscard]] std::span<const TensorInfo> tensors() const noexcept { return header_.tensors; }
  [[nodiscard]] bool contains(std::string_view name) const noexcept { return header_.find(name) != nullptr; }

  /// The tensor called `name`; a parse_error naming the file and the tensor when there is none.
  [[nodiscard]] const TensorInfo& info(std::string_view name) const {
    if (const TensorInfo* t = header_.find(name)) return *t;
    throw parse_error(source_, 0, std::string(name), "no tensor of this name in the file");
  }

  /// The raw little-endian bytes of a tensor of this file.
  [[nodiscard]] std::span<const std::byte> data(const TensorInfo& t) const noexcept {
    return storage_.bytes().subspan(header_.data_start + t.begin, t.nbytes());
  }
  /// \overload
  [[nodiscard]] std::span<const std::byte> data(std::string_view name) const { return data(info(name)); }

  /// The tensor's values as float (from F32, F16, BF16 or F64).
  [[nodiscard]] std::vector<float> to_f32(std::string_view name) const {
    const TensorInfo& t = info(name);
    try {
      return safetensors::to_f32(t.dtype, data(t));
    } catch (const invalid_argument& e) {
      throw parse_error(source_, 0, t.name, e.what());
    }
  }

  /// The tensor's values as int64 (from I64, I32, U8 or BOOL).
  [[nodiscard]] std::vector<std::int64_t> to_i64(std::string_view name) const {
    const TensorInfo& t = info(name);
    try {
      return safetensors::to_i64(t.dtype, data(t));
    } catch (const invalid_argument& e) {
      throw parse_error(source_, 0, t.name, e.what());
    }
  }

private:
  File() = default;
  std::string source_;
  rltf::formats::detail::MappedFile storage_;
  Header header_;
};

/// One tensor to write: name, dtype, shape and its raw little-endian bytes (which must hold
/// exactly numel(shape) × dtype_size(dtype) bytes).
struct TensorData {
  std::string name;
  Dtype dtype = Dtype::F32;
  Shape shape;
  std::span<const std::byte> bytes;
};

/// A complete safetensors file holding `tensors` and `metadata`: the header lists `__metadata__`
/// first and the tensors sorted by name, data laid out in that order, the header padded with
/// spaces to a multiple of 8 bytes. Throws invalid_argument for an empty, reserved or repeated
/// name, a negative dimension, or bytes that do not match the shape.
[[nodiscard]] inline std::vector<std::byte> serialize(std::span<const TensorData> tensors,
                                                      const std::map<std::string, std::string>& metadata = {}) {
  std::vector<const TensorData*> order;
  order.reserve(tensors.size());
  for (const auto& t : tensors) {
    if (t.name.empty()) throw invalid_argument("safetensors::serialize: a tensor name must not be empty");
    if (t.name == "__metadata__")
      throw invalid_argument("safetensors::serialize: '__metadata__' is reserved and cannot name a tensor");
    if (std::ranges::any_of(t.shape, [](std::int64_t d) { return d < 0; }))
      throw invalid_argument("safetensors::serialize: tensor '" + t.name + "' has a negative dimension in " +
                             to_string(t.shape));
    const auto expected = static_cast<std::size_t>(numel(t.shape)) * dtype_size(t.dtype);
    if (t.bytes.size() != expected)
      throw invalid_argument("safetensors::serialize: tensor '" + t.name + "' of shape " + to_string(t.shape) + " " +
                             std::string(dtype_name(t.dtype)) + " needs " + std::to_string(expected) +
                             " bytes but has " + std::to_string(t.bytes.size()));
    order.push_back(&t);
  }
  std::ranges::sort(order, [](const TensorData* a, const TensorData* b) { return a->name < b->name; });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (order[i]->name == order[i - 1]->name)
      throw invalid_argument("safetensors::serialize: tensor '" + order[i]->name + "' appears more than once");

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::size_t offset = 0;
  for (const TensorData* t : order) {
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = dtype_name(t->dtype);
    entry["shape"] = t->shape;
    entry["data_offsets"] = {offset, offset + t->bytes.size()};
    header[t->name] = std::move(entry);
    offset += t->bytes.size();
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');

  std::vector<std::byte> out(8 + text.size() + offset);
  std::uint64_t n = text.size();
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xFFU);
  std::memcpy(out.data() + 8, text.data(), text.size());
  std::byte* cursor = out.data() + 8 + text.size();
  for (const TensorData* t : order) {
    if (!t->bytes.empty()) std::memcpy(cursor, t->bytes.data(), t->bytes.size());
    cursor += t->bytes.size();
  }
  return out;
}

/// Writes serialize(tensors, metadata) to `path` (through a temporary file renamed into place, so
/// a failed write never leaves a truncated file). Throws io_error when writing fails.
inline void save(const std::filesystem::path& path, std::span<const TensorData> tensors,
                 const std::map<std::string, std::string>& metadata = {}) {
  rltf::detail::write_file_atomic(path, std::span<const std::byte>(serialize(tensors, metadata)));
}

} // namespace rltf::safetensors

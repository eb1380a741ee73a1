#pragma once
/// \file
/// Read-only bytes of a whole file: memory-mapped where the platform allows (checkpoints of
/// several GB are then paged in on demand, never copied), else read into memory; or bytes
/// adopted from a vector.

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rltf/core/error.hpp"

#if __has_include(<sys/mman.h>) && __has_include(<fcntl.h>) && __has_include(<unistd.h>)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define RLTF_DETAIL_FORMATS_HAS_MMAP 1
#else
#define RLTF_DETAIL_FORMATS_HAS_MMAP 0
#endif

namespace rltf::formats::detail {

/// Shared, immutable bytes of a file. Cheap to move; the bytes live while any copy does.
class MappedFile {
public:
  MappedFile() = default;

  /// The bytes of the file at `path`; io_error when it cannot be opened or read.
  [[nodiscard]] static MappedFile open(const std::filesystem::path& path) {
    MappedFile f;
#if RLTF_DETAIL_FORMATS_HAS_MMAP
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw io_error("cannot open " + path.string() + " for reading");
    struct ::stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw io_error(path.string() + " is not a readable regular file");
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0) {
      ::close(fd);
      f.owner_ = std::make_shared<std::vector<std::byte>>();
      return f;
    }
    void* addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (addr != MAP_FAILED) {
      f.owner_ = std::shared_ptr<void>(addr, [size](void* p) { ::munmap(p, size); });
      f.bytes_ = std::span<const std::byte>(static_cast<const std::byte*>(addr), size);
      return f;
    }
#endif
    std::ifstream in(path, std::ios::binary);
    if (!in) throw io_error("cannot open " + path.string() + " for reading");
    in.seekg(0, std::ios::end);
    const auto end = in.tellg();
    if (end < 0) throw io_error("cannot read " + path.string());
    in.seekg(0);
    auto data = std::make_shared<std::vector<std::byte>>(static_cast<std::size_t>(end));
    in.read(reinterpret_cast<char*>(data->data()), static_cast<std::streamsize>(data->size()));
    if (!in) throw io_error("cannot read " + path.string());
    f.bytes_ = std::span<const std::byte>(*data);
    f.owner_ = std::move(data);
    return f;
  }

  /// Takes ownership of bytes already in memory.
  [[nodiscard]] static MappedFile adopt(std::vector<std::byte> bytes) {
    MappedFile f;
    auto data = std::make_shared<std::vector<std::byte>>(std::move(bytes));
    f.bytes_ = std::span<const std::byte>(*data);
    f.owner_ = std::move(data);
    return f;
  }

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

private:
  std::shared_ptr<void> owner_;
  std::span<const std::byte> bytes_;
};

} // namespace rltf::formats::detail

#undef RLTF_DETAIL_FORMATS_HAS_MMAP

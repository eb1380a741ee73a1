#pragma once
/// \file
/// Files that appear whole or not at all, and survive a crash once written: what checkpoints and
/// results files are written with.
///
/// The bytes go to a temporary file in the destination's folder (`NAME.tmp.PID.N`); commit()
/// flushes it, fsyncs it, renames it over the destination and fsyncs the folder, so that after
/// commit() returns the new content is on disk under its name even if the machine loses power.
/// Any failure before the rename (a full disk: ENOSPC, a quota: EDQUOT, an I/O error) removes the
/// temporary file, leaves a previous file of that name exactly as it was, and throws
/// rltf::io_error naming the file, the reason and that the previous file is intact.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <span>
#include <streambuf>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "rltf/core/error.hpp"

namespace rltf::detail {

/// The reason for `err` as the C library words it, e.g. "No space left on device".
[[nodiscard]] inline std::string errno_message(int err) {
  return std::error_code(err, std::generic_category()).message();
}

/// fsyncs the folder `dir`, so that a file created or renamed in it survives a crash. Throws
/// rltf::io_error naming the folder when it cannot (file systems that cannot fsync a folder,
/// EINVAL, are accepted: there is nothing more to do on them).
inline void sync_directory(const std::filesystem::path& dir) {
  const std::string name = dir.empty() ? std::string(".") : dir.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw io_error("cannot open the folder '" + name + "' to sync it: " + errno_message(errno));
  int rc = 0;
  do rc = ::fsync(fd);
  while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) throw io_error("cannot sync the folder '" + name + "': " + errno_message(err));
}

/// An output stream onto a file that replaces `path` atomically and durably on commit().
/// Destroyed without commit() (an exception on the way), it removes its temporary file and
/// leaves `path` untouched. Not copyable or movable.
///
///     rltf::detail::AtomicFile out(path);
///     out << results;
///     out.commit(); // throws rltf::io_error; `path` is either the old file or the new one
class AtomicFile : public std::ostream {
public:
  explicit AtomicFile(std::filesystem::path path) : std::ostream(nullptr), path_(std::move(path)) {
    static std::atomic<unsigned> counter{0};
    tmp_ = path_;
    tmp_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    buf_.fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (buf_.fd < 0) raise(errno, "cannot create the temporary file '" + tmp_.string() + "'");
    created_ = true;
    rdbuf(&buf_);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() override { discard(); }

  /// The file this replaces.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  /// Flushes, fsyncs, renames the temporary file over path() and fsyncs its folder. Throws
  /// rltf::io_error (the temporary file removed, a previous path() intact) when any step fails.
  void commit() {
    if (committed_) return;
    flush();
    if (buf_.error != 0) raise(buf_.error, "writing failed");
    if (std::ostream::fail()) raise(EIO, "the stream was put in a failed state");
    int rc = 0;
    do rc = ::fsync(buf_.fd);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) raise(errno, "fsync failed");
    const int fd = buf_.fd;
    buf_.fd = -1;
    if (::close(fd) != 0) raise(errno, "closing the temporary file failed");
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      raise(errno, "cannot rename '" + tmp_.string() + "' to '" + path_.string() + "'");
    committed_ = true;
    sync_directory(path_.parent_path());
  }

private:
  // A stream buffer onto the descriptor that remembers the first errno a write() gave.
  struct FdBuf : std::streambuf {
    int fd = -1;
    int error = 0;
    std::vector<char> data = std::vector<char>(std::size_t{1} << 16);

    FdBuf() { reset(); }
    void reset() { setp(data.data(), data.data() + data.size()); }
    bool drain() {
      const char* p = pbase();
      std::size_t left = static_cast<std::size_t>(pptr() - pbase());
      while (left > 0 && error == 0) {
        const ::ssize_t n = ::write(fd, p, left);
        if (n < 0) {
          if (errno != EINTR) error = errno;
          continue;
        }
        p += n;
        left -= static_cast<std::size_t>(n);
      }
      reset();
      return error == 0;
    }
    int_type overflow(int_type c) override {
      if (!drain()) return traits_type::eof();
      if (!traits_type::eq_int_type(c, traits_type::eof())) {
        *pptr() = traits_type::to_char_type(c);
        pbump(1);
      }
      return traits_type::not_eof(c);
    }
    int sync() override { return drain() ? 0 : -1; }
  };

  void discard() noexcept {
    if (buf_.fd >= 0) {
      ::close(buf_.fd);
      buf_.fd = -1;
    }
    if (created_ && !committed_) ::unlink(tmp_.c_str());
  }

  [[noreturn]] void raise(int err, const std::string& what) {
    discard();
    std::error_code ec;
    const bool previous = std::filesystem::exists(path_, ec);
    throw io_error("cannot write '" + path_.string() + "': " + what + ": " + errno_message(err) + "; " +
                   (previous ? "the previous '" + path_.string() + "' is intact" : "no file was written"));
  }

  std::filesystem::path path_;
  std::filesystem::path tmp_;
  FdBuf buf_;
  bool created_ = false;
  bool committed_ = false;
};

/// Replaces `path` with `bytes`, atomically and durably (see AtomicFile). Throws rltf::io_error
/// naming the file and the reason, with a previous `path` intact, when it cannot.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile out(path);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.commit();
}

/// The same for binary data.
inline void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

} // namespace rltf::detail

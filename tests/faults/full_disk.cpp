// Nothing lost on faults: files written through rltf/detail/atomic_file.hpp (checkpoints, results
// and samples files) replace their previous version whole or not at all. The full-disk cases
// mount a 64 KiB tmpfs, fill it and write onto it: the write fails with an io_error that names the
// file, says "No space left on device" and that the previous file is intact, and it is. They are
// skipped, with a message, where mounting is not permitted (not root, or no CAP_SYS_ADMIN).

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/scratch.hpp"
#include "rltf/core/error.hpp"
#include "rltf/core/sample.hpp"
#include "rltf/data/samples.hpp"
#include "rltf/detail/atomic_file.hpp"
#include "rltf/train/checkpoint.hpp"

namespace faults_full_disk {

namespace fs = std::filesystem;

using rltf_test::slurp;

/// The names in `dir`, sorted.
inline std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

using rltf_test::ScratchDir;

/// A 64 KiB tmpfs mounted on a scratch folder, or nothing (with the reason) where mounting is not
/// permitted.
struct TinyFs {
  ScratchDir dir;
  bool mounted = false;
  std::string why_not;
  TinyFs() {
    if (::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=64k,mode=0755") == 0)
      mounted = true;
    else
      why_not = rltf::detail::errno_message(errno);
  }
  ~TinyFs() {
    if (mounted) ::umount2(dir.path.c_str(), MNT_DETACH);
  }
  TinyFs(const TinyFs&) = delete;
  TinyFs& operator=(const TinyFs&) = delete;

  /// Fills the file system: writes `filler` until the disk is full.
  void fill() const {
    const auto filler = dir.path / "filler";
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    const std::string block(4096, 'x');
    std::size_t written = 0;
    int err = 0;
    while (err == 0) {
      const ::ssize_t n = ::write(fd, block.data(), block.size());
      if (n < 0)
        err = errno;
      else
        written += static_cast<std::size_t>(n);
    }
    ::close(fd);
    REQUIRE(err == ENOSPC);
    REQUIRE(written > 0);
  }
};

#define RLTF_NEED_TINY_FS(fs_)                                                                                         \
  if (!(fs_).mounted) {                                                                                                \
    MESSAGE("skipped: cannot mount a tmpfs to fill (" << (fs_).why_not << "); the full-disk test needs root");         \
    return;                                                                                                            \
  }

/// Checks that `e` says what a failed write onto a full disk must say about `path`.
inline void check_full_disk_error(const rltf::io_error& e, const fs::path& path) {
  const std::string what = e.what();
  INFO(what);
  CHECK(what.find("cannot write '" + path.string() + "'") != std::string::npos);
  CHECK(what.find("No space left on device") != std::string::npos);
  CHECK(what.find("the previous '" + path.string() + "' is intact") != std::string::npos);
}

} // namespace faults_full_disk

using namespace faults_full_disk;

TEST_CASE("atomic_file: replaces a file whole and leaves no temporary file") {
  ScratchDir d;
  const auto path = d.path / "results.jsonl";
  rltf::detail::write_file_atomic(path, "first\n");
  CHECK(slurp(path) == "first\n");
  rltf::detail::write_file_atomic(path, std::string(200000, 'z')); // more than one stream buffer
  CHECK(slurp(path) == std::string(200000, 'z'));
  {
    rltf::detail::AtomicFile out(path);
    for (int i = 0; i < 3; ++i) out << "line " << i << '\n';
    CHECK(slurp(path) == std::string(200000, 'z')); // nothing visible before commit()
    out.commit();
  }
  CHECK(slurp(path) == "line 0\nline 1\nline 2\n");
  CHECK(names(d.path) == std::vector<std::string>{"results.jsonl"});
}

TEST_CASE("atomic_file: abandoned before commit (an exception), the previous file stays") {
  ScratchDir d;
  const auto path = d.path / "summary.json";
  rltf::detail::write_file_atomic(path, "{\"old\": true}\n");
  try {
    rltf::detail::AtomicFile out(path);
    out << "{\"new\": tr";
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  CHECK(slurp(path) == "{\"old\": true}\n");
  CHECK(names(d.path) == std::vector<std::string>{"summary.json"});
}

TEST_CASE("atomic_file: a folder that does not exist is an io_error naming the file") {
  ScratchDir d;
  const auto path = d.path / "no-such-folder" / "results.jsonl";
  try {
    rltf::detail::write_file_atomic(path, "x");
    FAIL("wrote into a folder that does not exist");
  } catch (const rltf::io_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("cannot write '" + path.string() + "'") != std::string::npos);
    CHECK(what.find("No such file or directory") != std::string::npos);
    CHECK(what.find("no file was written") != std::string::npos);
  }
}

TEST_CASE("full disk: a results file written onto a full file system leaves the previous one intact") {
  TinyFs tiny;
  RLTF_NEED_TINY_FS(tiny);
  const auto path = tiny.dir.path / "samples.jsonl_results.jsonl";
  const std::string previous = "{\"task_id\": \"HumanEval/0\", \"passed\": true}\n";
  rltf::detail::write_file_atomic(path, previous);
  tiny.fill();
  try {
    rltf::detail::write_file_atomic(path, std::string(32768, 'r'));
    FAIL("a write onto a full disk succeeded");
  } catch (const rltf::io_error& e) {
    check_full_disk_error(e, path);
  }
  CHECK(slurp(path) == previous);
  CHECK(names(tiny.dir.path) == std::vector<std::string>{"filler", "samples.jsonl_results.jsonl"});
}

TEST_CASE("full disk: a samples file (data::write_samples) onto a full file system keeps the previous one") {
  TinyFs tiny;
  RLTF_NEED_TINY_FS(tiny);
  const auto path = tiny.dir.path / "samples.jsonl";
  std::vector<rltf::Sample> old(1);
  old[0].task_id = "HumanEval/0";
  old[0].text = "    return 1\n";
  rltf::data::write_samples(path, old);
  tiny.fill();
  std::vector<rltf::Sample> next(200);
  for (auto& s : next) {
    s.task_id = "HumanEval/1";
    s.text = std::string(500, 'c');
  }
  try {
    rltf::data::write_samples(path, next);
    FAIL("a write onto a full disk succeeded");
  } catch (const rltf::io_error& e) {
    check_full_disk_error(e, path);
  }
  const auto back = rltf::data::read_samples(path);
  REQUIRE(back.size() == 1);
  CHECK(back[0].task_id == "HumanEval/0");
  CHECK(back[0].text == "    return 1\n");
}

TEST_CASE("full disk: a checkpoint written onto a full file system leaves the previous one as latest") {
  TinyFs tiny;
  RLTF_NEED_TINY_FS(tiny);
  const auto root = tiny.dir.path / "checkpoints";
  {
    const auto tmp = rltf::checkpoint::begin(root, 50);
    rltf::checkpoint::write_file_atomic(tmp / "trainer.json", "{\"step\": 50}\n");
    (void)rltf::checkpoint::commit(root, 50, 2);
  }
  tiny.fill();
  const auto tmp = rltf::checkpoint::begin(root, 100);
  const auto trainer = tmp / "trainer.json";
  try {
    rltf::checkpoint::write_file_atomic(trainer, std::string(32768, 's'));
    FAIL("a checkpoint write onto a full disk succeeded");
  } catch (const rltf::io_error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("cannot write '" + trainer.string() + "'") != std::string::npos);
    CHECK(what.find("No space left on device") != std::string::npos);
    CHECK(what.find("no file was written") != std::string::npos);
  }
  const std::optional<fs::path> latest = rltf::checkpoint::latest(root);
  REQUIRE(latest.has_value());
  CHECK(latest->filename() == "step-00000050");
  CHECK(slurp(*latest / "trainer.json") == "{\"step\": 50}\n");
  CHECK(slurp(root / "latest") == "step-00000050\n");
  // The failed write left nothing in the half-made checkpoint; the next begin() removes it.
  CHECK(names(tmp).empty());
  // `latest` itself, rewritten onto the full disk, stays as it was.
  try {
    rltf::checkpoint::write_file_atomic(root / "latest", "step-00000100\n" + std::string(32768, ' '));
    FAIL("a write onto a full disk succeeded");
  } catch (const rltf::io_error& e) {
    check_full_disk_error(e, root / "latest");
  }
  CHECK(slurp(root / "latest") == "step-00000050\n");
}

// The adversarial suite: hostile programs must never hang or crash the executor, never leave a
// process or a file behind, and the executor must still answer correctly afterwards.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rltf/exec/python_executor.hpp"

namespace rltf_adversarial_test {

/// Parent pid of `pid` from /proc/<pid>/stat; -1 when the process is gone.
inline int parent_of(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) return -1;
  // After ") " come the state and the ppid.
  std::size_t pos = close + 2;
  pos = stat.find(' ', pos);
  return std::stoi(stat.substr(pos + 1));
}

/// Every live process whose parent chain leads to this test process.
inline std::set<int> descendants_of_self() {
  std::map<int, int> parent;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const int pid = std::stoi(name);
    const int ppid = parent_of(pid);
    if (ppid >= 0) parent[pid] = ppid;
  }
  const int self = static_cast<int>(::getpid());
  std::set<int> out;
  for (const auto& [pid, ppid] : parent) {
    int p = ppid;
    for (int depth = 0; depth < 64 && p > 1; ++depth) {
      if (p == self) {
        out.insert(pid);
        break;
      }
      const auto it = parent.find(p);
      if (it == parent.end()) break;
      p = it->second;
    }
  }
  return out;
}

struct hostile {
  std::string name;
  std::string source;
  std::vector<std::string> tests;
};

inline rltf::Job job_of(const hostile& h, const rltf::Limits& limits) {
  rltf::Job job;
  job.program = rltf::Program{h.source, 0};
  for (const auto& t : h.tests) job.tests.tests.push_back({rltf::TestKind::assertion, t, "", ""});
  job.limits = limits;
  return job;
}

} // namespace rltf_adversarial_test

namespace adv = rltf_adversarial_test;
using rltf::Outcome;
using rltf::TestStatus;

TEST_CASE("adversarial programs: every one gets a result, nothing survives, the executor still works") {
  const auto root = std::filesystem::temp_directory_path() / ("rltf-adversarial-" + std::to_string(::getpid()));
  std::filesystem::create_directories(root);
  const auto outside = root.parent_path() / ("rltf-escape-" + std::to_string(::getpid()) + ".txt");
  std::filesystem::remove(outside);

  // Other tests' executors may be alive in this process: their workers are expected descendants.
  const std::set<int> before = adv::descendants_of_self();
  std::optional<rltf::PythonExecutor> holder;
  holder.emplace(rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 2, .temp_root = root.string()});
  auto& ex = *holder;
  rltf::Limits limits;
  limits.test_timeout_s = 1.0;
  limits.program_timeout_s = 3.0;
  limits.cpu_time_s = 3.0;
  limits.memory_bytes = std::size_t{512} << 20;
  limits.output_bytes = 64 << 10;

  const std::vector<adv::hostile> programs = {
      {"infinite loop", "def f():\n    while True:\n        pass\n", {"f()"}},
      {"long sleep", "import time\ntime.sleep(1000)\n", {"pass"}},
      {"fork bomb (ctypes)", "import ctypes\nlibc = ctypes.CDLL(None)\nwhile True:\n    libc.fork()\n", {"pass"}},
      {"fork bomb (os.fork)", "import os\nwhile True:\n    os.fork()\n", {"pass"}},
      {"memory bomb", "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 24))\n", {"pass"}},
      {"output flood", "while True:\n    print('x' * 1000)\n", {"pass"}},
      {"os._exit", "import os\nos._exit(0)\n", {"pass"}},
      {"sys.exit(3)", "import sys\nsys.exit(3)\n", {"pass"}},
      {"kill the parent",
       "import os, ctypes\nlibc = ctypes.CDLL(None)\nr = libc.kill(os.getppid(), 9)\n",
       {"assert r == -1"}},
      {"kill the parent's group",
       "import os, ctypes\nlibc = ctypes.CDLL(None)\nr = libc.kill(-os.getpgid(os.getppid()), 9)\n",
       {"assert r == -1"}},
      {"kill own group", "import ctypes\nctypes.CDLL(None).kill(0, 9)\n", {"pass"}},
      {"close fds 0-2", "import os\nos.close(0)\nos.close(1)\nos.close(2)\n", {"assert True"}},
      {"SIGSEGV via ctypes", "import ctypes\nctypes.string_at(0)\n", {"pass"}},
      {"deep recursion", "def f(n):\n    return f(n + 1) + 1\n", {"f(0)"}},
      {"unbounded recursion limit",
       "import sys\nsys.setrecursionlimit(10 ** 8)\ndef f(n):\n    return f(n + 1) + 1\n",
       {"f(0)"}},
      {"write outside", "open(" + nlohmann::json(outside.string()).dump() + ", 'w').write('escaped')\n", {"pass"}},
      {"write via ..", "open('../escape.txt', 'w').write('escaped')\n", {"pass"}},
      {"socket", "import socket\ns = socket.create_connection(('1.1.1.1', 80), timeout=0.5)\n", {"pass"}},
      {"read stdin forever", "import sys\nwhile True:\n    sys.stdin.read()\n", {"pass"}},
      {"input()", "x = input()\n", {"pass"}},
      {"non-daemon thread",
       "import threading, time\nthreading.Thread(target=time.sleep, args=(1000,)).start()\n",
       {"assert True"}},
      {"escaping double fork",
       "import ctypes, time\nlibc = ctypes.CDLL(None)\nif libc.fork() == 0:\n"
       "    libc.setsid()\n    if libc.fork() == 0:\n        time.sleep(1000)\n",
       {"assert True"}},
  };
  std::vector<rltf::Job> jobs;
  for (const auto& p : programs) jobs.push_back(adv::job_of(p, limits));

  const auto t0 = std::chrono::steady_clock::now();
  const auto results = ex.run_all(jobs);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(results.size() == programs.size());
  std::map<std::string, rltf::ExecutionResult> by_name;
  for (std::size_t i = 0; i < programs.size(); ++i) {
    by_name[programs[i].name] = results[i];
    INFO(programs[i].name, " -> ", rltf::to_string(results[i].outcome), " ",
         results[i].error ? results[i].error->type + ": " + results[i].error->message : std::string{});
    // Bounded by its own limit (plus slack for killing and reaping on a loaded 2-core machine):
    // the hostile ones would otherwise run for 1000 s.
    CHECK(results[i].wall_seconds < limits.program_timeout_s + 3.0);
  }
  // Each hostile job is bounded by its own limits; 22 of them on 2 workers.
  CHECK(seconds < 60.0);

  CHECK(by_name["infinite loop"].outcome == Outcome::timeout);
  CHECK(by_name["long sleep"].outcome == Outcome::timeout);
  CHECK(by_name["fork bomb (ctypes)"].outcome != Outcome::pass);
  CHECK(by_name["fork bomb (os.fork)"].outcome == Outcome::runtime_error); // os.fork is disabled
  // MemoryError at its line; on a heavily loaded machine, zeroing 512 MiB can outlast the 1 s limit.
  CHECK(by_name["memory bomb"].outcome != Outcome::pass);
  if (by_name["memory bomb"].outcome == Outcome::runtime_error) {
    CHECK(by_name["memory bomb"].error->type == "MemoryError");
    CHECK(by_name["memory bomb"].error->line == 3);
  }
  CHECK(by_name["output flood"].outcome == Outcome::runtime_error);
  CHECK(by_name["output flood"].error->type == "OutputLimitExceeded");
  CHECK(by_name["output flood"].output_truncated);
  CHECK(by_name["output flood"].stdout_text.size() == limits.output_bytes);
  CHECK(by_name["os._exit"].outcome == Outcome::runtime_error);
  CHECK(by_name["os._exit"].error->type == "SystemExit");
  CHECK(by_name["sys.exit(3)"].outcome == Outcome::runtime_error);
  CHECK(by_name["sys.exit(3)"].error->type == "SystemExit");
  CHECK(by_name["sys.exit(3)"].error->message == "3");
  CHECK(by_name["sys.exit(3)"].error->line == 2);
  if (ex.privileges_dropped()) {
    // `nobody` cannot signal the root-owned worker or its group.
    CHECK(by_name["kill the parent"].outcome == Outcome::pass);
    // In a PID namespace the parent's group is not visible: getpgid gives 0, and kill(0) ends the
    // program's own group; without one, the kill is refused.
    if (ex.pid_isolated())
      CHECK(by_name["kill the parent's group"].outcome == Outcome::runtime_error);
    else
      CHECK(by_name["kill the parent's group"].outcome == Outcome::pass);
    CHECK(ex.restarts() == 0);
  }
  CHECK(by_name["kill own group"].outcome == Outcome::runtime_error);
  CHECK(by_name["kill own group"].error->signal == 9);
  CHECK(by_name["close fds 0-2"].outcome == Outcome::pass);
  CHECK(by_name["SIGSEGV via ctypes"].outcome == Outcome::runtime_error);
  CHECK(by_name["SIGSEGV via ctypes"].error->type == "Killed");
  CHECK(by_name["SIGSEGV via ctypes"].error->signal == 11);
  CHECK(by_name["deep recursion"].outcome == Outcome::runtime_error);
  CHECK(by_name["deep recursion"].error->type == "RecursionError");
  CHECK(by_name["deep recursion"].error->line == 2);
  CHECK(by_name["unbounded recursion limit"].outcome != Outcome::pass);
  CHECK(by_name["write outside"].outcome == Outcome::runtime_error);
  CHECK(by_name["write outside"].error->type == "PermissionError");
  CHECK_FALSE(std::filesystem::exists(outside));
  CHECK(by_name["write via .."].outcome == Outcome::runtime_error);
  CHECK_FALSE(std::filesystem::exists(root / "escape.txt"));
  CHECK(by_name["socket"].outcome == Outcome::runtime_error);
  CHECK(by_name["read stdin forever"].outcome == Outcome::timeout);
  CHECK(by_name["input()"].outcome == Outcome::runtime_error);
  CHECK(by_name["input()"].error->type == "EOFError");
  CHECK(by_name["non-daemon thread"].outcome == Outcome::pass);
  // The program's result does not wait for its thread's 1000 s sleep (nor for the timeout).
  CHECK(by_name["non-daemon thread"].wall_seconds < limits.program_timeout_s);
  CHECK(by_name["escaping double fork"].outcome == Outcome::pass);

  // Nothing is left: the only descendants of this process are the workers and their zygotes...
  const auto workers = ex.worker_pids();
  const auto helpers = ex.helper_pids();
  CHECK(helpers.size() >= workers.size());
  std::set<int> expected(workers.begin(), workers.end());
  expected.insert(helpers.begin(), helpers.end());
  expected.insert(before.begin(), before.end());
  CHECK(adv::descendants_of_self() == expected);
  // ... every private working directory was removed (only the workers' own, empty, folders remain) ...
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    INFO(entry.path().string());
    CHECK(entry.path().filename().string().starts_with("rltf-worker-"));
    CHECK(std::filesystem::is_empty(entry.path()));
  }
  // ... and the executor still answers correctly.
  rltf::TestSuite tests;
  tests.tests.push_back({rltf::TestKind::assertion, "assert add(2, 3) == 5", "", ""});
  tests.tests.push_back({rltf::TestKind::assertion, "assert add(2, 2) == 5", "", ""});
  const auto after = ex.run(rltf::Program{"def add(a, b):\n    return a + b\n", 0}, tests);
  CHECK(after.outcome == Outcome::failure);
  CHECK(after.passed == 1);
  // Once the executor is gone, so are its folders and processes.
  holder.reset();
  CHECK(std::filesystem::is_empty(root));
  CHECK(adv::descendants_of_self() == before);
  std::filesystem::remove_all(root);
}

TEST_CASE("children have no network when the kernel grants a network namespace") {
  rltf::PythonExecutor ex{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 1}};
  rltf::TestSuite tests;
  tests.tests.push_back({rltf::TestKind::assertion, "assert names == ['lo'], names", "", ""});
  const auto r = ex.run(rltf::Program{"import socket\nnames = [n for _, n in socket.if_nameindex()]\n", 0}, tests);
  CHECK(r.network_isolated == ex.network_isolated());
  if (ex.network_isolated()) {
    CHECK(r.outcome == Outcome::pass);
  } else {
    MESSAGE("no network namespace on this kernel: network calls are refused by the audit hook instead");
  }
}

TEST_CASE("children run as nobody when the executor runs as root") {
  rltf::PythonExecutor ex{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 1}};
  rltf::TestSuite tests;
  tests.tests.push_back({rltf::TestKind::assertion, "assert uid == 65534 and gid == 65534", "", ""});
  const auto r = ex.run(rltf::Program{"import os\nuid, gid = os.getuid(), os.getgid()\n", 0}, tests);
  if (::geteuid() == 0) {
    CHECK(ex.privileges_dropped());
    CHECK(r.outcome == Outcome::pass);
  } else {
    CHECK_FALSE(ex.privileges_dropped());
  }
}

TEST_CASE("without the privilege drop, ordinary programs still run (the developer path)") {
  rltf::PythonExecutor ex{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 1, .drop_privileges = false}};
  CHECK_FALSE(ex.privileges_dropped());
  rltf::TestSuite tests;
  tests.tests.push_back({rltf::TestKind::assertion, "assert open('f.txt').read() == 'ok'", "", ""});
  const auto r = ex.run(rltf::Program{"with open('f.txt', 'w') as f:\n    f.write('ok')\n", 0}, tests);
  CHECK(r.outcome == Outcome::pass);
}

TEST_CASE("isolation beyond rlimits: read-only host, private PID namespace, seccomp (as root), reported per result") {
  rltf::PythonExecutor ex{rltf::PythonExecutorOptions{.python = RLTF_PYTHON, .workers = 1}};
  // The audit hook would refuse these first; ctypes goes around it, to the kernel's own refusals.
  const std::string program = "import os, ctypes\n"
                              "libc = ctypes.CDLL(None, use_errno=True)\n"
                              "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
                              "me = os.getpid()\n"
                              "fd = libc.open(b'/tmp/rltf-isolation-probe', 0o101, 0o644)\n"
                              "open_errno = ctypes.get_errno()\n"
                              "un = libc.unshare(0x40000000)\n"
                              "un_errno = ctypes.get_errno()\n"
                              "pt = libc.ptrace(16, 1, 0, 0)\n"
                              "pt_errno = ctypes.get_errno()\n"
                              "open('mine.txt', 'w').write('ok')\n";
  rltf::TestSuite tests;
  tests.tests.push_back({rltf::TestKind::assertion, "assert pids == [1, me], (pids, me)", "", ""});
  tests.tests.push_back({rltf::TestKind::assertion, "assert fd == -1 and open_errno == 30, (fd, open_errno)", "", ""});
  tests.tests.push_back({rltf::TestKind::assertion, "assert un == -1 and un_errno == 1, (un, un_errno)", "", ""});
  tests.tests.push_back({rltf::TestKind::assertion, "assert pt == -1 and pt_errno == 1, (pt, pt_errno)", "", ""});
  tests.tests.push_back({rltf::TestKind::assertion, "assert open('mine.txt').read() == 'ok'", "", ""});
  const auto r = ex.run(rltf::Program{program, 0}, tests);
  CHECK(r.filesystem_isolated == ex.filesystem_isolated());
  CHECK(r.pid_isolated == ex.pid_isolated());
  CHECK(r.seccomp_filtered == ex.seccomp_filtered());
  CHECK(r.cgroup_limited == ex.cgroup_limited());
  CHECK_FALSE(std::filesystem::exists("/tmp/rltf-isolation-probe"));
  CHECK(r.tests.at(4).status == TestStatus::passed); // the private working directory stays writable
  if (::geteuid() == 0) {
    CHECK(ex.filesystem_isolated());
    CHECK(ex.pid_isolated());
    CHECK(ex.seccomp_filtered());
    INFO(r.tests[0].detail, " | ", r.tests[1].detail, " | ", r.tests[2].detail, " | ", r.tests[3].detail);
    CHECK(r.outcome == Outcome::pass);
  } else {
    MESSAGE("not root: no mount or PID namespace (the seccomp filter still applies: ", ex.seccomp_filtered(), ")");
  }
  // Each can be switched off.
  rltf::PythonExecutor off{rltf::PythonExecutorOptions{
      .python = RLTF_PYTHON, .workers = 1, .isolate_filesystem = false, .isolate_pids = false, .seccomp = false}};
  CHECK_FALSE(off.filesystem_isolated());
  CHECK_FALSE(off.pid_isolated());
  CHECK_FALSE(off.seccomp_filtered());
  const auto plain = off.run(rltf::Program{"x = 1\n", 0},
                             rltf::TestSuite{{}, {}, {{rltf::TestKind::assertion, "assert x == 1", "", ""}}});
  CHECK(plain.outcome == Outcome::pass);
  CHECK_FALSE(plain.filesystem_isolated);
  CHECK_FALSE(plain.pid_isolated);
}

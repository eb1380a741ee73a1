#pragma once
// A local OpenAI-compatible server (tests/judge/openai_server.py) on 127.0.0.1 for the judge tests:
// started per test, its request log read back, stopped with the test.
#include <signal.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

namespace rltf_judge_test {

class OpenAiServer {
public:
  explicit OpenAiServer(const std::string& name)
      : dir_(std::filesystem::path(RLTF_BINARY_DIR) / "judge_tests" / (name + "_" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    namespace bp = boost::process;
    child_ =
        bp::child(bp::exe = RLTF_PYTHON,
                  bp::args = std::vector<std::string>{std::string(RLTF_SOURCE_DIR) + "/tests/judge/openai_server.py",
                                                      "--log", log().string()},
                  bp::std_out > out_);
    std::string line;
    std::getline(out_, line);
    port_ = std::stoi(line);
  }
  OpenAiServer(const OpenAiServer&) = delete;
  OpenAiServer& operator=(const OpenAiServer&) = delete;
  ~OpenAiServer() {
    ::kill(child_.id(), SIGKILL);
    std::error_code ec;
    child_.wait(ec);
  }

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  [[nodiscard]] std::filesystem::path log() const { return dir_ / "requests.jsonl"; }
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

  /// Every request the server saw so far.
  [[nodiscard]] std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log());
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  /// The most requests it had in flight at once.
  [[nodiscard]] int peak_in_flight() const {
    std::ifstream in(log().string() + ".peak");
    int peak = 0;
    in >> peak;
    return peak;
  }

private:
  std::filesystem::path dir_;
  boost::process::ipstream out_;
  boost::process::child child_;
  int port_ = 0;
};

} // namespace rltf_judge_test

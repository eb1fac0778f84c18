// `quarry serve` as a child process on a free loopback port, for tests that
// drive the real server over real HTTP.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "test_util.h"

namespace quarry::test {

class ServeProcess {
 public:
  // Runs `quarry serve --port 0 ARGS...` with extra environment variables
  // (NAME=VALUE) and waits up to 60 s for it to print its URL.
  ServeProcess(std::vector<std::string> args, std::vector<std::string> env = {}) {
    out_ = (dir_.path() / "out").string();
    err_ = (dir_.path() / "err").string();
    std::vector<std::string> argv = {QUARRY_BIN, "serve", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      for (auto& e : env) putenv(e.data());
      int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(o, 1);
      dup2(e, 2);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    for (int i = 0; i < 600 && url_.empty(); ++i) {
      const std::string text = Read(out_);
      const size_t at = text.find("http://");
      if (at != std::string::npos) {
        url_ = text.substr(at, text.find_first_of(" \n", at) - at);
        break;
      }
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~ServeProcess() { Stop(SIGKILL); }

  bool up() const { return !url_.empty() && pid_ > 0; }
  const std::string& url() const { return url_; }
  std::string err() const { return Read(err_); }
  // The exit code once it has exited (-1 while it runs).
  int exit_code() const { return exit_code_; }

  httplib::Client Client(const std::string& key = "") const {
    httplib::Client c(url_);
    c.set_read_timeout(std::chrono::seconds(300));
    if (!key.empty()) c.set_bearer_token_auth(key);
    return c;
  }

  // Sends sig and waits for the exit; returns the exit code (128+N for a signal).
  int Stop(int sig = SIGTERM) {
    if (pid_ > 0) {
      kill(pid_, sig);
      int st = 0;
      waitpid(pid_, &st, 0);
      exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      pid_ = -1;
    }
    return exit_code_;
  }

 private:
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  TempDir dir_;
  std::string out_, err_, url_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

}  // namespace quarry::test

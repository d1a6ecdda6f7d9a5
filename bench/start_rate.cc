// StartExecution over HTTP against `hpdeploy serve` with its journal on (fsync per group commit),
// and the restart of a server holding many open executions.
//
//   start_rate HPDEPLOY [--connections K] [--seconds T] [--warmup-s W] [--machine pass|wait]
//              [--definition FILE] [--http-threads N] [--workers N] [--dir DIR] [--json FILE]
//   start_rate HPDEPLOY --restart N [--definition FILE] [--connections K] [--http-threads N]
//              [--workers N] [--dir DIR] [--json FILE]
//
// Rate: starts HPDEPLOY serve as a child (--port 0, a temporary data dir under DIR, default /tmp,
// removed at the end), waits for "hpdeploy serve: listening on http://127.0.0.1:PORT", creates a
// STANDARD state machine (pass: one Pass state, each execution ends in its start transaction;
// wait: a Wait of 100000 s, each execution stays open), then fires StartExecution from K
// keep-alive connections (POSIX sockets, one epoll thread, a new request as soon as the previous
// answer arrived) for W seconds of warm-up and T measured seconds. Prints requests/s, latency
// p50/p99/max, errors, the server's CPU seconds per second (/proc/PID/stat), its VmRSS and
// VmHWM, and this client's CPU (it shares the machine with the server).
//
// Restart (--restart N): the server with the wait machine, N StartExecutions, the server's
// memory with N executions parked, ListExecutions (RUNNING) counted; then kill -9, a new server
// on the same data dir, and the time from its spawn to the readiness line beside the "recovered"
// log line (stderr) it prints; then ListExecutions (RUNNING) and a DescribeExecution of each of
// the N executions must all say RUNNING; its memory again.
//
// --definition FILE replaces the built-in machine (for --restart it must park its executions):
// to see how the server's memory per open execution grows with the definition's size.
//
// Every request carries `Authorization: AWS4-HMAC-SHA256 ...` (on loopback the server accepts any
// signed request), X-Amz-Target AWSStepFunctions.<Action> and Content-Type
// application/x-amz-json-1.0.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "bench/workloads.h"
#include "common/json.h"

extern char** environ;

namespace {

namespace json = boost::json;
using hpd::bench::Fixed;
using hpd::bench::Ms;
using hpd::bench::SteadyClock;

constexpr std::string_view kPassMachine =
    R"({"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}})";
constexpr std::string_view kWaitMachine =
    R"({"StartAt":"Park","States":{"Park":{"Type":"Wait","Seconds":100000,"Next":"Done"},)"
    R"("Done":{"Type":"Succeed"}}})";

struct Options {
  std::string hpdeploy;
  size_t connections = 32;
  double seconds = 10;
  double warmup_s = 1;
  std::string machine = "pass";
  std::string definition_file;  // --definition FILE
  std::string definition;       // its text
  size_t http_threads = 2;
  size_t workers = 2;
  std::string dir = "/tmp";
  std::string json_path;
  int64_t restart = 0;  // --restart N
};

// ---- HTTP/1.1 over POSIX sockets ----

std::string RequestText(uint16_t port, std::string_view action, std::string_view body) {
  std::string r;
  r.reserve(512 + body.size());
  r += "POST / HTTP/1.1\r\nHost: 127.0.0.1:";
  r += std::to_string(port);
  r += "\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.";
  r += action;
  r += "\r\nX-Amz-Date: 20260101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 "
       "Credential=AKIDBENCH/20260101/us-east-1/states/aws4_request, "
       "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
       "Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n"
       "Content-Length: ";
  r += std::to_string(body.size());
  r += "\r\n\r\n";
  r += body;
  return r;
}

struct Response {
  int status = 0;
  std::string body;
};

// Takes one whole response off the front of `buffer`, if there is one.
bool TakeResponse(std::string& buffer, Response* out) {
  const size_t head_end = buffer.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  size_t length = 0;
  size_t line = buffer.find("\r\n");
  while (line < head_end) {
    const size_t next = buffer.find("\r\n", line + 2);
    std::string_view header(buffer.data() + line + 2, next - line - 2);
    constexpr std::string_view kLength = "content-length:";
    if (header.size() > kLength.size() &&
        std::equal(kLength.begin(), kLength.end(), header.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      length = std::strtoul(std::string(header.substr(kLength.size())).c_str(), nullptr, 10);
    }
    line = next;
  }
  if (buffer.size() < head_end + 4 + length) return false;
  out->status = buffer.size() > 12 ? std::atoi(buffer.c_str() + 9) : 0;
  out->body.assign(buffer, head_end + 4, length);
  buffer.erase(0, head_end + 4 + length);
  return true;
}

int Connect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, 1000);
      continue;
    }
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

// One blocking keep-alive connection, for setup and checks.
class Client {
 public:
  explicit Client(uint16_t port) : port_(port), fd_(Connect(port)) {}
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  std::optional<Response> Call(std::string_view action, std::string_view body) {
    if (fd_ < 0 || !SendAll(fd_, RequestText(port_, action, body))) return std::nullopt;
    Response response;
    char chunk[65536];
    while (!TakeResponse(buffer_, &response)) {
      const ssize_t got = recv(fd_, chunk, sizeof chunk, 0);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<size_t>(got));
    }
    return response;
  }

 private:
  uint16_t port_;
  int fd_;
  std::string buffer_;
};

// K keep-alive connections driven by one epoll thread: each sends its next request as soon as
// the previous one's response arrived, until `next` has no more requests or time is up.
struct LoadResult {
  int64_t ok = 0;
  int64_t errors = 0;
  std::string first_error;
  std::vector<double> latencies_ms;  // of the measured requests
  double seconds = 0;                // measured window
};

class LoadDriver {
 public:
  // `next(i)` gives the i-th request's action and body, or nullopt when there are no more;
  // `check` says whether a 200 response is right ("" or what is wrong).
  using Next = std::function<std::optional<std::pair<std::string, std::string>>(int64_t)>;
  using Check = std::function<std::string(const Response&)>;

  LoadDriver(uint16_t port, size_t connections) : port_(port), connections_(connections) {}

  // Runs until `next` runs out or `warmup_s + seconds` passed (seconds <= 0: no time limit);
  // latencies and counts cover the requests sent after the warm-up.
  std::optional<LoadResult> Run(const Next& next, const Check& check, double warmup_s,
                                double seconds) {
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return std::nullopt;
    std::vector<Conn> conns(connections_);
    for (size_t i = 0; i < conns.size(); ++i) {
      conns[i].fd = Connect(port_);
      if (conns[i].fd < 0) {
        std::cerr << "start_rate: cannot connect to 127.0.0.1:" << port_ << "\n";
        return std::nullopt;
      }
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &event);
    }
    LoadResult result;
    const auto t0 = SteadyClock::now();
    const auto measure_from = t0 + Seconds(warmup_s);
    const std::optional<SteadyClock::time_point> stop_at =
        seconds > 0 ? std::optional(measure_from + Seconds(seconds)) : std::nullopt;
    int64_t issued = 0;
    size_t busy = 0;
    bool exhausted = false;
    std::optional<SteadyClock::time_point> first_measured, last_measured;
    auto send_next = [&](Conn& c) {
      if (exhausted || (stop_at && SteadyClock::now() >= *stop_at)) return;
      auto request = next(issued);
      if (!request) {
        exhausted = true;
        return;
      }
      ++issued;
      c.sent_at = SteadyClock::now();
      c.measured = c.sent_at >= measure_from;
      if (c.measured && !first_measured) first_measured = c.sent_at;
      if (!SendAll(c.fd, RequestText(port_, request->first, request->second))) {
        ++result.errors;
        if (result.first_error.empty()) result.first_error = "send failed";
        return;
      }
      c.busy = true;
      ++busy;
    };
    for (Conn& c : conns) send_next(c);
    std::vector<epoll_event> events(conns.size());
    char chunk[65536];
    while (busy > 0) {
      const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
      if (n < 0 && errno == EINTR) continue;
      for (int k = 0; k < n; ++k) {
        Conn& c = conns[events[static_cast<size_t>(k)].data.u64];
        const ssize_t got = recv(c.fd, chunk, sizeof chunk, 0);
        if (got <= 0) {
          if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          ++result.errors;
          if (result.first_error.empty()) result.first_error = "connection closed by the server";
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          if (c.busy) --busy;
          c.busy = false;
          continue;
        }
        c.buffer.append(chunk, static_cast<size_t>(got));
        Response response;
        while (c.busy && TakeResponse(c.buffer, &response)) {
          const auto now = SteadyClock::now();
          c.busy = false;
          --busy;
          std::string wrong = response.status == 200
                                  ? check(response)
                                  : "HTTP " + std::to_string(response.status) + " " + response.body;
          if (!wrong.empty()) {
            ++result.errors;
            if (result.first_error.empty()) result.first_error = wrong;
          } else if (c.measured) {
            ++result.ok;
            result.latencies_ms.push_back(Ms(now - c.sent_at));
          }
          if (c.measured) last_measured = now;
          send_next(c);
        }
      }
    }
    for (Conn& c : conns) close(c.fd);
    close(ep);
    if (first_measured && last_measured) {
      result.seconds = std::chrono::duration<double>(*last_measured - *first_measured).count();
    }
    return result;
  }

 private:
  struct Conn {
    int fd = -1;
    std::string buffer;
    SteadyClock::time_point sent_at;
    bool measured = false;
    bool busy = false;
  };

  static SteadyClock::duration Seconds(double s) {
    return std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(s));
  }

  uint16_t port_;
  size_t connections_;
};

// ---- The server process ----

// CPU seconds (user + system) of a process, from /proc/PID/stat.
double ProcessCpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

class Server {
 public:
  Server() = default;
  ~Server() { Kill(SIGKILL); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Spawns `hpdeploy serve` and waits for its readiness line. "" or what went wrong.
  std::string Start(const Options& opt, const std::filesystem::path& data_dir,
                    const std::filesystem::path& stderr_file, double time_scale) {
    stderr_file_ = stderr_file;
    std::vector<std::string> argv = {opt.hpdeploy,     "serve",
                                     "--port",         "0",
                                     "--data-dir",     data_dir.string(),
                                     "--time-scale",   Fixed(time_scale, 3),
                                     "--workers",      std::to_string(opt.workers),
                                     "--http-threads", std::to_string(opt.http_threads)};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    const auto t0 = SteadyClock::now();
    const int rc =
        posix_spawn(&pid_, opt.hpdeploy.c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (rc != 0) {
      close(out[0]);
      pid_ = 0;
      return "cannot run " + opt.hpdeploy + ": " + std::strerror(rc);
    }
    stdout_fd_ = out[0];
    constexpr std::string_view kReady = "hpdeploy serve: listening on http://127.0.0.1:";
    std::string text;
    char chunk[4096];
    while (true) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (poll(&p, 1, 120'000) <= 0) return "no readiness line within 120 s";
      const ssize_t got = read(stdout_fd_, chunk, sizeof chunk);
      if (got <= 0) {
        return "the server exited before it was ready; stderr:\n" +
               hpd::bench::ReadFile(stderr_file).value_or("");
      }
      text.append(chunk, static_cast<size_t>(got));
      const size_t at = text.find(kReady);
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        ready_ms_ = Ms(SteadyClock::now() - t0);
        port_ = static_cast<uint16_t>(std::atoi(text.c_str() + at + kReady.size()));
        return port_ == 0 ? "unreadable port in: " + text : "";
      }
    }
  }

  void Kill(int signal_number) {
    if (pid_ <= 0) return;
    kill(pid_, signal_number);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = 0;
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdout_fd_ = -1;
  }

  // The "recovered" log line's JSON fields (stderr), or null.
  json::value Recovered() const {
    std::ifstream in(stderr_file_);
    for (std::string line; std::getline(in, line);) {
      if (line.find("\"msg\":\"recovered\"") == std::string::npos) continue;
      auto parsed = hpd::ParseJson(line);
      if (parsed.ok()) return *parsed;
    }
    return nullptr;
  }

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  double ready_ms() const { return ready_ms_; }

 private:
  pid_t pid_ = 0;
  int stdout_fd_ = -1;
  uint16_t port_ = 0;
  double ready_ms_ = 0;
  std::filesystem::path stderr_file_;
};

std::string CreateMachine(uint16_t port, std::string_view definition, std::string* arn) {
  Client client(port);
  json::object body{{"name", "bench"},
                    {"definition", definition},
                    {"roleArn", "arn:aws:iam::123456789012:role/bench"}};
  auto response = client.Call("CreateStateMachine", hpd::SerializeJson(body));
  if (!response) return "CreateStateMachine: no answer";
  if (response->status != 200) return "CreateStateMachine: " + response->body;
  auto parsed = hpd::ParseJson(response->body);
  if (!parsed.ok() || !parsed->is_object() || !parsed->as_object().contains("stateMachineArn")) {
    return "CreateStateMachine: unexpected answer " + response->body;
  }
  *arn = std::string(parsed->as_object().at("stateMachineArn").as_string());
  return "";
}

std::string StartBody(const std::string& machine_arn) {
  return hpd::SerializeJson(json::object{{"stateMachineArn", machine_arn}, {"input", "{\"n\":1}"}});
}

std::string CheckStarted(const Response& r) {
  return r.body.find("\"executionArn\"") == std::string::npos ? "no executionArn: " + r.body : "";
}

// ListExecutions (RUNNING), every page; the ARNs.
std::optional<std::vector<std::string>> ListRunning(uint16_t port, const std::string& machine_arn,
                                                    std::string* error) {
  Client client(port);
  std::vector<std::string> arns;
  std::optional<std::string> token;
  do {
    json::object body{
        {"stateMachineArn", machine_arn}, {"statusFilter", "RUNNING"}, {"maxResults", 1000}};
    if (token) body["nextToken"] = *token;
    auto response = client.Call("ListExecutions", hpd::SerializeJson(body));
    if (!response || response->status != 200) {
      *error = "ListExecutions: " + (response ? response->body : std::string("no answer"));
      return std::nullopt;
    }
    auto parsed = hpd::ParseJson(response->body);
    if (!parsed.ok() || !parsed->is_object()) {
      *error = "ListExecutions: unreadable answer";
      return std::nullopt;
    }
    const json::object& page = parsed->as_object();
    for (const json::value& e : page.at("executions").as_array()) {
      if (e.as_object().at("status").as_string() != "RUNNING") {
        *error = "ListExecutions (RUNNING) listed " + hpd::SerializeJson(e);
        return std::nullopt;
      }
      arns.emplace_back(e.as_object().at("executionArn").as_string());
    }
    token.reset();
    if (const json::value* next = page.if_contains("nextToken")) {
      token = std::string(next->as_string());
    }
  } while (token);
  return arns;
}

struct Stats {
  double p50 = 0, p99 = 0, max = 0;
};
Stats LatencyStats(std::vector<double> latencies) {
  std::sort(latencies.begin(), latencies.end());
  Stats s;
  s.p50 = hpd::bench::Quantile(latencies, 0.5);
  s.p99 = hpd::bench::Quantile(latencies, 0.99);
  s.max = latencies.empty() ? 0 : latencies.back();
  return s;
}

class TempDir {
 public:
  explicit TempDir(const std::string& parent) {
    std::string pattern = (std::filesystem::path(parent) / "hpd-start-rate.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

int Rate(const Options& opt) {
  TempDir tmp(opt.dir);
  if (tmp.path().empty()) {
    std::cerr << "start_rate: cannot create a directory under " << opt.dir << "\n";
    return 1;
  }
  Server server;
  if (std::string e = server.Start(opt, tmp.path() / "data", tmp.path() / "serve.stderr", 1);
      !e.empty()) {
    std::cerr << "start_rate: " << e << "\n";
    return 1;
  }
  std::string machine_arn;
  if (std::string e = CreateMachine(server.port(),
                                    !opt.definition.empty() ? std::string_view(opt.definition)
                                    : opt.machine == "wait" ? kWaitMachine
                                                            : kPassMachine,
                                    &machine_arn);
      !e.empty()) {
    std::cerr << "start_rate: " << e << "\n";
    return 1;
  }
  std::cerr << "start_rate: server pid " << server.pid() << " on port " << server.port()
            << ", ready in " << Fixed(server.ready_ms(), 1) << " ms; " << opt.connections
            << " connections, " << opt.warmup_s << " s warm-up + " << opt.seconds << " s\n";
  const std::string body = StartBody(machine_arn);
  LoadDriver driver(server.port(), opt.connections);
  // CPU is sampled around the whole run; the warm-up's share is taken out by proportion.
  const double server_cpu0 = ProcessCpu(server.pid());
  const double client_cpu0 = hpd::bench::ProcessCpuSeconds();
  const auto t0 = SteadyClock::now();
  auto result = driver.Run(
      [&](int64_t) { return std::optional(std::make_pair(std::string("StartExecution"), body)); },
      CheckStarted, opt.warmup_s, opt.seconds);
  const double wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  const double server_cpu = ProcessCpu(server.pid()) - server_cpu0;
  const double client_cpu = hpd::bench::ProcessCpuSeconds() - client_cpu0;
  if (!result) return 1;
  const double rss = hpd::bench::ProcStatusMiB("VmRSS:", server.pid());
  const double hwm = hpd::bench::ProcStatusMiB("VmHWM:", server.pid());
  std::error_code error;
  const auto journal_bytes = std::filesystem::file_size(tmp.path() / "data" / "journal.db", error);
  const auto wal_bytes = std::filesystem::file_size(tmp.path() / "data" / "journal.db-wal", error);
  server.Kill(SIGTERM);

  const Stats s = LatencyStats(result->latencies_ms);
  const double rate = static_cast<double>(result->ok) / std::max(result->seconds, 1e-9);
  const std::string machine_label =
      opt.definition.empty() ? opt.machine + " machine"
                             : std::to_string(opt.definition.size()) + "-byte --definition";
  std::cout << "start_rate: StartExecution (" << machine_label << ", STANDARD) from "
            << opt.connections << " keep-alive connections, " << Fixed(result->seconds, 1)
            << " s measured after " << opt.warmup_s << " s warm-up; server --http-threads "
            << opt.http_threads << " --workers " << opt.workers << ", journal fsync on, "
            << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs, load average " <<
      [] {
        std::ifstream in("/proc/loadavg");
        std::string a, b, c;
        in >> a >> b >> c;
        return a + " " + b + " " + c;
      }() << "\n";
  std::cout << "| requests/s | requests | errors | p50 ms | p99 ms | max ms | server CPU s/s | "
               "client CPU s/s | server VmRSS / VmHWM MiB | journal MiB |\n";
  std::cout << "|---|---|---|---|---|---|---|---|---|---|\n";
  std::cout << "| " << Fixed(rate, 0) << " | " << result->ok << " | " << result->errors << " | "
            << Fixed(s.p50, 2) << " | " << Fixed(s.p99, 2) << " | " << Fixed(s.max, 2) << " | "
            << Fixed(server_cpu / wall, 2) << " | " << Fixed(client_cpu / wall, 2) << " | "
            << Fixed(rss, 1) << " / " << Fixed(hwm, 1) << " | "
            << Fixed(static_cast<double>(journal_bytes + wal_bytes) / 1048576.0, 1) << " |\n";
  if (!result->first_error.empty()) std::cout << "first error: " << result->first_error << "\n";
  if (!opt.json_path.empty()) {
    json::object r{{"machine", machine_label},
                   {"connections", opt.connections},
                   {"seconds", result->seconds},
                   {"requestsPerSec", rate},
                   {"requests", result->ok},
                   {"errors", result->errors},
                   {"p50Ms", s.p50},
                   {"p99Ms", s.p99},
                   {"maxMs", s.max},
                   {"serverCpuPerSec", server_cpu / wall},
                   {"clientCpuPerSec", client_cpu / wall},
                   {"serverVmRssMiB", rss},
                   {"serverVmHwmMiB", hwm}};
    hpd::bench::WriteJsonFile(opt.json_path, r);
  }
  return result->errors == 0 ? 0 : 1;
}

int Restart(const Options& opt) {
  TempDir tmp(opt.dir);
  if (tmp.path().empty()) {
    std::cerr << "start_rate: cannot create a directory under " << opt.dir << "\n";
    return 1;
  }
  const std::filesystem::path data = tmp.path() / "data";
  auto fail = [](const std::string& why) {
    std::cerr << "start_rate --restart: " << why << "\n";
    return 1;
  };
  const int64_t n = opt.restart;

  Server first;
  if (std::string e = first.Start(opt, data, tmp.path() / "serve-1.stderr", 1); !e.empty()) {
    return fail(e);
  }
  std::string machine_arn;
  if (std::string e = CreateMachine(
          first.port(), opt.definition.empty() ? kWaitMachine : std::string_view(opt.definition),
          &machine_arn);
      !e.empty()) {
    return fail(e);
  }
  const double base_rss = hpd::bench::ProcStatusMiB("VmRSS:", first.pid());
  std::cerr << "start_rate --restart: starting " << n << " executions of a Wait (100000 s)...\n";
  const std::string body = StartBody(machine_arn);
  const auto s0 = SteadyClock::now();
  auto started = LoadDriver(first.port(), opt.connections)
                     .Run(
                         [&](int64_t i) -> std::optional<std::pair<std::string, std::string>> {
                           if (i >= n) return std::nullopt;
                           return std::make_pair(std::string("StartExecution"), body);
                         },
                         CheckStarted, 0, 0);
  const double start_s = std::chrono::duration<double>(SteadyClock::now() - s0).count();
  if (!started || started->errors != 0 || started->ok != n) {
    return fail("starting: " + std::to_string(started ? started->ok : 0) + " started, " +
                (started ? started->first_error : std::string("no result")));
  }
  const double rss_before = hpd::bench::ProcStatusMiB("VmRSS:", first.pid());
  const double hwm_before = hpd::bench::ProcStatusMiB("VmHWM:", first.pid());
  std::string error;
  auto running_before = ListRunning(first.port(), machine_arn, &error);
  if (!running_before) return fail(error);
  if (static_cast<int64_t>(running_before->size()) != n) {
    return fail("before the restart ListExecutions (RUNNING) lists " +
                std::to_string(running_before->size()));
  }
  first.Kill(SIGKILL);
  std::cerr << "start_rate --restart: killed (SIGKILL) with " << n
            << " RUNNING; restarting on the same data dir...\n";

  Server second;
  if (std::string e = second.Start(opt, data, tmp.path() / "serve-2.stderr", 1); !e.empty()) {
    return fail(e);
  }
  const double ready_ms = second.ready_ms();
  const json::value recovered = second.Recovered();
  const double rss_ready = hpd::bench::ProcStatusMiB("VmRSS:", second.pid());
  auto running_after = ListRunning(second.port(), machine_arn, &error);
  if (!running_after) return fail(error);
  std::sort(running_before->begin(), running_before->end());
  std::sort(running_after->begin(), running_after->end());
  if (*running_after != *running_before) {
    return fail("after the restart ListExecutions (RUNNING) lists " +
                std::to_string(running_after->size()) + " executions, not the same " +
                std::to_string(n));
  }
  const std::vector<std::string>& arns = *running_after;
  auto described = LoadDriver(second.port(), opt.connections)
                       .Run(
                           [&](int64_t i) -> std::optional<std::pair<std::string, std::string>> {
                             if (i >= static_cast<int64_t>(arns.size())) return std::nullopt;
                             return std::make_pair(
                                 std::string("DescribeExecution"),
                                 hpd::SerializeJson(
                                     json::object{{"executionArn", arns[static_cast<size_t>(i)]}}));
                           },
                           [](const Response& r) -> std::string {
                             return r.body.find("\"status\":\"RUNNING\"") == std::string::npos
                                        ? "not RUNNING: " + r.body
                                        : "";
                           },
                           0, 0);
  if (!described || described->errors != 0 || described->ok != n) {
    return fail(
        "DescribeExecution after the restart: " + std::to_string(described ? described->ok : 0) +
        " RUNNING, " + (described ? described->first_error : std::string("no result")));
  }
  const double rss_after = hpd::bench::ProcStatusMiB("VmRSS:", second.pid());
  const double hwm_after = hpd::bench::ProcStatusMiB("VmHWM:", second.pid());
  std::error_code ec;
  const auto journal_bytes = std::filesystem::file_size(data / "journal.db", ec);
  second.Kill(SIGTERM);

  auto field = [&](std::string_view key) -> std::string {
    if (!recovered.is_object()) return "?";
    const json::value* v = recovered.as_object().if_contains(key);
    return v == nullptr ? "?" : hpd::SerializeJson(*v);
  };
  std::cout << "start_rate --restart: " << n << " executions parked in a Wait ("
            << (opt.definition.empty()
                    ? std::string("built-in 100000 s machine")
                    : std::to_string(opt.definition.size()) + "-byte --definition")
            << "), "
            << "server --http-threads " << opt.http_threads << " --workers " << opt.workers << ", "
            << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs\n";
  std::cout << "| phase | figure |\n|---|---|\n";
  std::cout << "| start " << n << " executions (" << opt.connections << " connections) | "
            << Fixed(start_s, 2) << " s, " << Fixed(static_cast<double>(n) / start_s, 0)
            << " starts/s |\n";
  std::cout << "| server RSS, machine created, no execution | " << Fixed(base_rss, 1) << " MiB |\n";
  std::cout << "| server with " << n << " parked: VmRSS / VmHWM | " << Fixed(rss_before, 1) << " / "
            << Fixed(hwm_before, 1) << " MiB |\n";
  std::cout << "| kill -9, restart: spawn to readiness line | " << Fixed(ready_ms, 1) << " ms |\n";
  std::cout << "| \"recovered\" log line | executions " << field("executions") << ", calls "
            << field("calls") << ", timers_rearmed " << field("timers_rearmed") << ", ms "
            << field("ms") << " |\n";
  std::cout << "| after restart: ListExecutions RUNNING / DescribeExecution RUNNING | "
            << running_after->size() << " / " << described->ok << " of " << n << " |\n";
  std::cout << "| restarted server VmRSS at ready / after checks / VmHWM | " << Fixed(rss_ready, 1)
            << " / " << Fixed(rss_after, 1) << " / " << Fixed(hwm_after, 1) << " MiB |\n";
  std::cout << "| journal.db | " << Fixed(static_cast<double>(journal_bytes) / 1048576.0, 1)
            << " MiB |\n";
  if (!opt.json_path.empty()) {
    json::object r{{"executions", n},
                   {"startSeconds", start_s},
                   {"baseRssMiB", base_rss},
                   {"parkedVmRssMiB", rss_before},
                   {"parkedVmHwmMiB", hwm_before},
                   {"readyMs", ready_ms},
                   {"recovered", recovered},
                   {"runningAfter", running_after->size()},
                   {"describedRunning", described->ok},
                   {"restartedVmRssAtReadyMiB", rss_ready},
                   {"restartedVmRssMiB", rss_after},
                   {"restartedVmHwmMiB", hwm_after}};
    hpd::bench::WriteJsonFile(opt.json_path, r);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "start_rate: StartExecution over HTTP against `HPDEPLOY serve` with its journal on, or "
      "(--restart N) the restart of a server holding N open executions.",
      "start_rate"};
  Options opt;
  app.add_option("HPDEPLOY", opt.hpdeploy, "the hpdeploy binary to serve with")
      ->type_name("")
      ->required();
  app.add_option("--connections", opt.connections, "keep-alive connections")
      ->type_name("K")
      ->check(hpd::bench::AboveZero())
      ->capture_default_str();
  app.add_option("--seconds", opt.seconds, "measured seconds")
      ->type_name("T")
      ->check(hpd::bench::AboveZero())
      ->capture_default_str();
  hpd::bench::AddWarmupOption(app, &opt.warmup_s);
  app.add_option("--machine", opt.machine,
                 "pass: one Pass state; wait: a Wait of 100000 s (each execution stays open)")
      ->type_name("pass|wait")
      ->check(CLI::IsMember({"pass", "wait"}).description(""))
      ->capture_default_str();
  app.add_option("--definition", opt.definition_file,
                 "the definition to start instead of the built-in one (--restart: it must park "
                 "its executions)")
      ->type_name("FILE");
  app.add_option("--http-threads", opt.http_threads, "the server's --http-threads")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--workers", opt.workers, "the server's --workers")
      ->type_name("N")
      ->capture_default_str();
  app.add_option("--dir", opt.dir, "where the temporary data directory goes")
      ->type_name("DIR")
      ->capture_default_str();
  hpd::bench::AddJsonOption(app, &opt.json_path);
  app.add_option("--restart", opt.restart,
                 "start N executions that park, kill -9 the server, restart it and check them")
      ->type_name("N")
      ->check(hpd::bench::NotNegative());
  if (auto exit_code = hpd::bench::ParseCommandLine(app, argc, argv)) return *exit_code;
  if (app.count("--definition") > 0) {
    auto text = hpd::bench::ReadFile(opt.definition_file);
    if (!text) {
      std::cerr << "cannot read " << opt.definition_file << "\n";
      return 2;
    }
    opt.definition = std::move(*text);
  }
  signal(SIGPIPE, SIG_IGN);
  return opt.restart > 0 ? Restart(opt) : Rate(opt);
}

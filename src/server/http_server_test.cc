#include "server/http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status_matchers.h"

namespace hpd::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr auto kWait = std::chrono::seconds(10);

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
};

// A blocking HTTP/1.1 client on one TCP connection, for tests. Reads time out after kWait so a
// broken server fails the test instead of hanging it.
class TestClient {
 public:
  // A `receive_buffer` > 0 fixes the socket's receive buffer (no autotuning), so a client that
  // does not read stops the server's writes sooner.
  explicit TestClient(uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    timeval tv{};
    tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kWait).count();
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~TestClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response; nullopt if the connection ends (or times out) before a whole one arrives.
  std::optional<ClientResponse> Read() {
    auto response = ReadHead();
    if (!response.has_value()) return std::nullopt;
    const std::string length = response->Header("content-length");
    const size_t body_size = length.empty() ? 0 : std::stoul(length);
    while (pending_.size() < body_size) {
      if (!Fill()) return std::nullopt;
    }
    response->body = pending_.substr(0, body_size);
    pending_.erase(0, body_size);
    return response;
  }

  // The status line and headers of a response, leaving its body unread.
  std::optional<ClientResponse> ReadHead() {
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    ClientResponse response;
    const std::string head = pending_.substr(0, header_end);
    pending_.erase(0, header_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    response.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line =
          head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value_start = colon + 1;
      while (value_start < line.size() && line[value_start] == ' ') ++value_start;
      response.headers.emplace_back(std::move(name), line.substr(value_start));
    }
    return response;
  }

  // One chunk of a chunked body, parsed strictly (RFC 9112 7.1, no extensions or trailers
  // expected): "" for the last chunk, nullopt if the bytes are not a chunk or the connection ends
  // (or times out) first.
  std::optional<std::string> ReadChunk() {
    size_t line_end;
    while ((line_end = pending_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    const std::string size_text = pending_.substr(0, line_end);
    if (size_text.empty() ||
        size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      return std::nullopt;
    }
    const size_t size = std::stoul(size_text, nullptr, 16);
    const size_t total = line_end + 2 + size + 2;
    while (pending_.size() < total) {
      if (!Fill()) return std::nullopt;
    }
    if (pending_.compare(total - 2, 2, "\r\n") != 0) return std::nullopt;
    std::string data = pending_.substr(line_end + 2, size);
    pending_.erase(0, total);
    return data;
  }

  // Everything until the server closes the connection; nullopt if it does not within kWait.
  std::optional<std::string> ReadToEnd() {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (n < 0 && errno == ECONNRESET)) break;
      if (n < 0) return std::nullopt;
      pending_.append(buf, static_cast<size_t>(n));
    }
    return std::exchange(pending_, {});
  }

  // Reads exactly `n` raw bytes.
  std::string ReadRaw(size_t n) {
    while (pending_.size() < n) {
      if (!Fill()) break;
    }
    std::string out = pending_.substr(0, n);
    pending_.erase(0, out.size());
    return out;
  }

  // True once the server has closed the connection (EOF or reset) with nothing left unread.
  bool ClosedByPeer() {
    if (!pending_.empty()) return false;
    char c;
    for (;;) {
      const ssize_t n = ::recv(fd_, &c, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      return false;
    }
  }

 private:
  bool Fill() {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      pending_.append(buf, static_cast<size_t>(n));
      return true;
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

// True if nothing listens on the loopback port any more.
bool ConnectionRefused(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool refused = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 &&
                       errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

std::string Post(std::string_view target, std::string_view body,
                 std::string_view extra_headers = "") {
  std::string request = "POST ";
  request += target;
  request += " HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n";
  request += extra_headers;
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request += body;
  return request;
}

// Answers at once with "<method> <target> <x-test header>|<body>".
void Echo(HttpRequest request, HttpResponder respond) {
  HttpResponse response;
  response.headers.emplace_back("Content-Type", "text/plain");
  response.body = request.method + " " + request.target + " " +
                  std::string(request.Header("x-test")) + "|" + request.body;
  respond(std::move(response));
}

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options, HttpHandler handler) {
  auto server = HttpServer::Start(std::move(options), std::move(handler));
  EXPECT_THAT(server, IsOk());
  return server.ok() ? std::move(server).value() : nullptr;
}

struct PendingRequest {
  HttpRequest request;
  HttpResponder respond;
};

// Requests whose responders the test holds, handed over by the handler thread.
class PendingRequests {
 public:
  HttpHandler Handler() {
    return [this](HttpRequest request, HttpResponder respond) {
      auto pending = std::make_unique<PendingRequest>();
      pending->request = std::move(request);
      pending->respond = std::move(respond);
      std::lock_guard lock(mu_);
      pending_.push_back(std::move(pending));
      cv_.notify_all();
    };
  }

  // Waits for the next request; null after kWait.
  std::unique_ptr<PendingRequest> Next() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [this] { return !pending_.empty(); })) return nullptr;
    auto next = std::move(pending_.front());
    pending_.pop_front();
    return next;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<PendingRequest>> pending_;  // Guarded by mu_.
};

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "text/plain");
  response.body = std::move(body);
  return response;
}

TEST(HttpServerTest, EchoRoundTrip) {
  std::mutex mu;
  std::string seen_remote, seen_header_name;  // Guarded by mu.
  auto server = StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    {
      std::lock_guard lock(mu);
      seen_remote = request.remote_address;
      seen_header_name = request.headers.empty() ? "" : request.headers.back().first;
    }
    Echo(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->host(), "127.0.0.1");
  EXPECT_NE(server->port(), 0);

  TestClient client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send(Post("/echo?x=1", "hello", "X-Test: abc\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "POST /echo?x=1 abc|hello");
  EXPECT_EQ(response->Header("content-type"), "text/plain");
  EXPECT_EQ(response->Header("content-length"), "24");
  EXPECT_EQ(response->Header("connection"), "");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen_remote, "127.0.0.1");
  EXPECT_EQ(seen_header_name, "content-length");  // lower-cased, in order
}

TEST(HttpServerTest, HeaderLookupIsByLowerCaseNameAndFirstWins) {
  HttpRequest request;
  request.headers = {{"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}};
  EXPECT_EQ(request.Header("x-a"), "1");
  EXPECT_EQ(request.Header("x-b"), "2");
  EXPECT_EQ(request.Header("x-c"), "");
}

TEST(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    ++calls;
    Echo(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client.Send(Post("/n", std::to_string(i))));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->body, "POST /n |" + std::to_string(i));
  }
  // Pipelined: three requests in one write come back in order.
  ASSERT_TRUE(client.Send(Post("/p", "a") + Post("/p", "b") + Post("/p", "c")));
  for (const char* expected : {"a", "b", "c"}) {
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body, std::string("POST /p |") + expected);
  }
  EXPECT_EQ(calls.load(), 8);
}

TEST(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  auto server = StartServer({}, Echo);
  ASSERT_NE(server, nullptr);
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send("GET /old HTTP/1.0\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body, "GET /old |");
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto first = client.Read();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->Header("connection"), "keep-alive");
    ASSERT_TRUE(client.Send("GET /b HTTP/1.0\r\n\r\n"));
    auto second = client.Read();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->body, "GET /b |");
    EXPECT_TRUE(client.ClosedByPeer());
  }
}

TEST(HttpServerTest, ConnectionCloseIsHonoured) {
  auto server = StartServer({}, Echo);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/", "x", "Connection: close\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(client.ClosedByPeer());
}

TEST(HttpServerTest, AsynchronousReplyFromAnotherThreadAfterTheHandlerReturned) {
  PendingRequests pending;
  auto server = StartServer({}, pending.Handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/slow", "payload")));
  auto request = pending.Next();  // the handler has returned by now
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->request.body, "payload");
  std::thread replier([respond = std::move(request->respond)] {
    respond(TextResponse(202, "later"));
    respond(TextResponse(500, "ignored"));  // only the first call counts
  });
  replier.join();
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 202);
  EXPECT_EQ(response->body, "later");
  // The connection is still usable.
  ASSERT_TRUE(client.Send(Post("/next", "")));
  auto next = pending.Next();
  ASSERT_NE(next, nullptr);
  next->respond(TextResponse(200, "again"));
  auto second = client.Read();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, "again");
}

TEST(HttpServerTest, ResponseHeadersTheServerOwnsAreNotTakenFromTheHandler) {
  auto server = StartServer({}, [](HttpRequest, HttpResponder respond) {
    HttpResponse response = TextResponse(200, "abc");
    response.headers.emplace_back("Content-Length", "999");
    response.headers.emplace_back("Connection", "close");
    response.headers.emplace_back("X-Injected", "a\r\nSet-Cookie: x=1");
    response.headers.emplace_back("X-Fine", "yes");
    respond(std::move(response));
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/", "")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("content-length"), "3");
  EXPECT_EQ(response->Header("connection"), "");
  EXPECT_EQ(response->Header("x-injected"), "");
  EXPECT_EQ(response->Header("set-cookie"), "");
  EXPECT_EQ(response->Header("x-fine"), "yes");
  EXPECT_EQ(response->body, "abc");
}

TEST(HttpServerTest, DroppedResponderAnswers500) {
  auto server = StartServer({}, [](HttpRequest, HttpResponder) {});
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/", "")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_THAT(response->body, HasSubstr("\"__type\":\"InternalFailure\""));
}

TEST(HttpServerTest, ThrowingHandlerAnswers500AndTheServerGoesOn) {
  auto server = StartServer({}, [](HttpRequest request, HttpResponder respond) {
    if (request.target == "/throw") throw std::runtime_error("boom");
    Echo(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/throw", "")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 500);
  EXPECT_THAT(response->body, HasSubstr("boom"));
  ASSERT_TRUE(client.Send(Post("/ok", "")));
  auto next = client.Read();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, 200);
}

TEST(HttpServerTest, ExpectContinueGetsAnInterimResponse) {
  auto server = StartServer({}, Echo);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(
      "POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(client.ReadRaw(interim.size()), interim);
  ASSERT_TRUE(client.Send("data"));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "POST /up |data");
}

TEST(HttpServerTest, OversizeBodyIs413AndClosesTheConnection) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = StartServer(options, [&](HttpRequest request, HttpResponder respond) {
    ++calls;
    Echo(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(Post("/", std::string(1024, 'x'))));  // at the limit: fine
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
  }
  {
    // The whole over-size body is sent; the server reads and discards it before closing, so the
    // client gets the 413 rather than a reset.
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(Post("/", std::string(256 * 1024, 'x'))));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_EQ(response->Header("content-type"), "application/json");
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_EQ(response->body,
              R"({"__type":"RequestEntityTooLarge","message":"request body exceeds 1024 bytes"})");
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    // Chunked bodies are limited as they arrive.
    TestClient client(server->port());
    std::string chunked = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) chunked += "200\r\n" + std::string(512, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    ASSERT_TRUE(client.Send(chunked));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, OversizeHeaderIs431) {
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  auto server = StartServer(options, Echo);
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/", "", "X-Big: " + std::string(4096, 'h') + "\r\n")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 431);
  EXPECT_THAT(response->body, HasSubstr("\"__type\":\"RequestHeaderFieldsTooLarge\""));
  EXPECT_TRUE(client.ClosedByPeer());

  TestClient fine(server->port());
  ASSERT_TRUE(fine.Send(Post("/", "", "X-Small: " + std::string(512, 'h') + "\r\n")));
  auto ok = fine.Read();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST(HttpServerTest, GarbageIs400AndTheServerStillServesOthers) {
  std::atomic<int> calls{0};
  auto server = StartServer({}, [&](HttpRequest request, HttpResponder respond) {
    ++calls;
    Echo(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  const std::vector<std::string> malformed = {
      std::string("\x01\x02\x03\xff garbage\r\n\r\n", 16),
      "GET / HTTP/9.9\r\n\r\n",
      "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const auto& bytes : malformed) {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(bytes));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value()) << bytes;
    EXPECT_EQ(response->status, 400) << bytes;
    EXPECT_THAT(response->body, StartsWith("{\"__type\":\"BadRequest\"")) << bytes;
    EXPECT_TRUE(client.ClosedByPeer()) << bytes;
  }
  // Random bytes, and connections dropped mid-request: no answer is required, only survival.
  uint32_t x = 12345;
  for (int round = 0; round < 20; ++round) {
    std::string noise(static_cast<size_t>(64 + round * 37), '\0');
    for (char& c : noise) {
      x = x * 1664525u + 1013904223u;
      c = static_cast<char>(x >> 24);
    }
    TestClient client(server->port());
    client.Send(round % 2 == 0 ? noise : "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nab");
  }
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/", "still here")));
  auto response = client.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "POST / |still here");
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, BusyPortIsUnavailableAndNamesTheAddress) {
  auto first = StartServer({}, Echo);
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.port = first->port();
  auto second = HttpServer::Start(options, Echo);
  EXPECT_THAT(second, StatusIs(StatusCode::kUnavailable, "address already in use: 127.0.0.1:" +
                                                             std::to_string(first->port())));
}

TEST(HttpServerTest, BadHostIsInvalidArgument) {
  HttpServerOptions options;
  options.host = "not an address";
  EXPECT_THAT(HttpServer::Start(options, Echo),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not an address")));
  options.host = "localhost";
  auto server = HttpServer::Start(options, Echo);
  ASSERT_THAT(server, IsOk());
  EXPECT_EQ((*server)->host(), "localhost");
}

TEST(HttpServerTest, ShutdownDeliversPendingRepliesThenRefusesConnections) {
  PendingRequests pending;
  auto server = StartServer({}, pending.Handler());
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  TestClient busy(port);
  ASSERT_TRUE(busy.Send(Post("/slow", "")));
  auto request = pending.Next();
  ASSERT_NE(request, nullptr);
  TestClient idle(port);  // connected, no request: closed at once by Shutdown
  ASSERT_TRUE(idle.connected());

  const auto drain = std::chrono::seconds(30);
  const auto started = std::chrono::steady_clock::now();
  std::thread shutter([&] { server->Shutdown(drain); });
  const auto deadline = started + kWait;
  while (!ConnectionRefused(port) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE(ConnectionRefused(port));
  EXPECT_TRUE(idle.ClosedByPeer());

  request->respond(TextResponse(200, "drained"));
  auto response = busy.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "drained");
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(busy.ClosedByPeer());
  shutter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, drain);  // did not wait for the deadline
  EXPECT_TRUE(ConnectionRefused(port));
  server->Shutdown(std::chrono::milliseconds(0));  // idempotent
}

TEST(HttpServerTest, ShutdownClosesWhatDoesNotFinishWithinTheDrain) {
  PendingRequests pending;
  auto server = StartServer({}, pending.Handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/never", "")));
  auto request = pending.Next();
  ASSERT_NE(request, nullptr);
  server->Shutdown(std::chrono::milliseconds(20));
  EXPECT_TRUE(client.ClosedByPeer());
  // Responding after shutdown, and after the server is gone, is harmless.
  request->respond(TextResponse(200, "too late"));
  server.reset();
  HttpResponder copy = request->respond;
  copy(TextResponse(200, "still too late"));
}

TEST(HttpServerTest, ResponderOutlivingTheServerIsHarmless) {
  PendingRequests pending;
  auto server = StartServer({}, pending.Handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Post("/", "")));
  auto request = pending.Next();
  ASSERT_NE(request, nullptr);
  server.reset();  // destructor shuts down with no drain
  EXPECT_TRUE(client.ClosedByPeer());
  request->respond(TextResponse(200, "nobody listens"));
  request.reset();  // the last copy goes
}

TEST(HttpServerTest, ConcurrentClientsFromSeveralThreads) {
  HttpServerOptions options;
  options.threads = 2;
  // Half the replies come from a worker thread, as the engine's would.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, HttpResponder>> queue;
  bool done = false;
  std::thread worker([&] {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return done || !queue.empty(); });
      if (queue.empty()) return;
      auto [body, respond] = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      respond(TextResponse(200, "async:" + body));
      lock.lock();
    }
  });
  auto server = StartServer(options, [&](HttpRequest request, HttpResponder respond) {
    if (request.target == "/async") {
      std::lock_guard lock(mu);
      queue.emplace_back(std::move(request.body), std::move(respond));
      cv.notify_one();
      return;
    }
    respond(TextResponse(200, "sync:" + request.body));
  });
  ASSERT_NE(server, nullptr);

  constexpr int kClients = 8;
  constexpr int kRequests = 50;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      TestClient client(server->port());
      for (int i = 0; i < kRequests; ++i) {
        const bool async = (i + c) % 2 == 0;
        const std::string body = std::to_string(c) + "-" + std::to_string(i);
        if (!client.Send(Post(async ? "/async" : "/sync", body))) return;
        auto response = client.Read();
        if (!response.has_value()) return;
        if (response->body == (async ? "async:" : "sync:") + body) ++good;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients * kRequests);
  server.reset();
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_one();
  worker.join();
}

// Streams that the handler opened, their writers handed to the test. Each records how often its
// OnClose callback ran.
class StreamCapture {
 public:
  struct Stream {
    std::shared_ptr<HttpStreamWriter> writer;
    std::atomic<int> closes{0};
  };

  // Answers every request with a stream of `body` and the SSE headers.
  HttpHandler Handler(std::string body = "") {
    return [this, body](HttpRequest, HttpResponder respond) {
      HttpResponse response;
      response.headers.emplace_back("Content-Type", "text/event-stream");
      response.body = body;
      response.stream = [this](std::shared_ptr<HttpStreamWriter> writer) {
        auto stream = std::make_shared<Stream>();
        stream->writer = writer;
        writer->OnClose([this, raw = stream.get()] {
          std::lock_guard lock(mu_);
          ++raw->closes;
          cv_.notify_all();
        });
        std::lock_guard lock(mu_);
        streams_.push_back(std::move(stream));
        cv_.notify_all();
      };
      respond(std::move(response));
    };
  }

  // Waits until `n` streams have opened in all; the n-th, or null after kWait.
  std::shared_ptr<Stream> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return streams_.size() >= n; })) return nullptr;
    return streams_[n - 1];
  }

  // Waits until the stream's OnClose has run; false after kWait.
  bool WaitClosed(const Stream& stream) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return stream.closes.load() > 0; });
  }

  std::vector<std::shared_ptr<Stream>> All() {
    std::lock_guard lock(mu_);
    return streams_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Stream>> streams_;  // Guarded by mu_.
};

std::string Get(std::string_view target) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

TEST(HttpServerStreamTest, ChunksArriveLiveAndInOrderAndCloseEndsTheBody) {
  StreamCapture streams;
  auto server = StartServer({}, streams.Handler("retry: 1000\n\n"));
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/events")));
  auto head = client.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("content-type"), "text/event-stream");
  EXPECT_EQ(head->Header("transfer-encoding"), "chunked");
  EXPECT_EQ(head->Header("content-length"), "");
  EXPECT_EQ(head->Header("connection"), "close");
  EXPECT_EQ(client.ReadChunk(), "retry: 1000\n\n");  // the body, as the first chunk

  auto stream = streams.WaitFor(1);
  ASSERT_NE(stream, nullptr);
  // Each chunk is read before the next is written: nothing waits for a buffer to fill.
  for (int i = 0; i < 5; ++i) {
    const std::string event = "id: " + std::to_string(i) + "\ndata: {}\n\n";
    ASSERT_TRUE(stream->writer->Write(event));
    EXPECT_EQ(client.ReadChunk(), event);
  }
  EXPECT_TRUE(stream->writer->Write(""));  // no chunk at all, not the end of the body
  const std::string big(100000, 'x');      // a chunk size of several hex digits
  ASSERT_TRUE(stream->writer->Write(big));
  ASSERT_TRUE(stream->writer->Write("after"));
  EXPECT_FALSE(stream->writer->closed());
  stream->writer->Close();
  EXPECT_TRUE(stream->writer->closed());
  EXPECT_FALSE(stream->writer->Write("too late"));
  EXPECT_EQ(client.ReadChunk(), big);
  EXPECT_EQ(client.ReadChunk(), "after");
  EXPECT_EQ(client.ReadChunk(), "");  // the terminating chunk
  EXPECT_EQ(client.ReadToEnd(), "");  // then the close, with nothing after the body
  ASSERT_TRUE(streams.WaitClosed(*stream));
  stream->writer->Close();  // harmless
  int late_calls = 0;
  stream->writer->OnClose([&] { ++late_calls; });  // already closed: at once
  EXPECT_EQ(late_calls, 1);
  EXPECT_EQ(stream->closes.load(), 1);
}

TEST(HttpServerStreamTest, CloseRightAfterWritesSendsThemAllThenAWellFormedEnd) {
  StreamCapture streams;
  auto server = StartServer({}, streams.Handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/events")));
  auto stream = streams.WaitFor(1);
  ASSERT_NE(stream, nullptr);
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    const std::string chunk = "event " + std::to_string(i) + "\n";
    expected += chunk;
    ASSERT_TRUE(stream->writer->Write(chunk));
  }
  stream->writer->Close();

  auto head = client.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->Header("transfer-encoding"), "chunked");
  std::string body;
  for (;;) {
    auto chunk = client.ReadChunk();
    ASSERT_TRUE(chunk.has_value()) << "body so far: " << body.size() << " bytes";
    if (chunk->empty()) break;
    body += *chunk;
  }
  EXPECT_EQ(body, expected);
  EXPECT_EQ(client.ReadToEnd(), "");
  ASSERT_TRUE(streams.WaitClosed(*stream));
  EXPECT_EQ(stream->closes.load(), 1);
}

TEST(HttpServerStreamTest, ManyConcurrentStreamsOnTwoThreads) {
  constexpr size_t kStreams = 200;
  constexpr int kEvents = 20;
  constexpr size_t kProducers = 4;
  HttpServerOptions options;
  options.threads = 2;
  StreamCapture streams;
  auto server = StartServer(options, streams.Handler("hello\n"));
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (size_t i = 0; i < kStreams; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(clients.back()->Send(Get("/events")));
  }
  ASSERT_NE(streams.WaitFor(kStreams), nullptr);
  const auto all = streams.All();

  // Several producers, each owning a share of the streams, write concurrently; each stream gets
  // its events from one producer, so its order is defined.
  std::vector<std::thread> producers;
  std::atomic<int> failed_writes{0};
  for (size_t p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int e = 0; e < kEvents; ++e) {
        for (size_t i = p; i < all.size(); i += kProducers) {
          if (!all[i]->writer->Write("data: " + std::to_string(e) + "\n\n")) ++failed_writes;
        }
      }
      for (size_t i = p; i < all.size(); i += kProducers) all[i]->writer->Close();
    });
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(failed_writes.load(), 0);

  std::string expected = "hello\n";
  for (int e = 0; e < kEvents; ++e) expected += "data: " + std::to_string(e) + "\n\n";
  size_t good = 0;
  for (auto& client : clients) {
    auto head = client->ReadHead();
    if (!head.has_value() || head->status != 200) continue;
    std::string body;
    bool ended = false;
    while (auto chunk = client->ReadChunk()) {
      if (chunk->empty()) {
        ended = true;
        break;
      }
      body += *chunk;
    }
    if (ended && body == expected) ++good;
  }
  EXPECT_EQ(good, kStreams);
  for (const auto& stream : all) {
    ASSERT_TRUE(streams.WaitClosed(*stream));
    EXPECT_EQ(stream->closes.load(), 1);
  }
}

TEST(HttpServerStreamTest, ClientThatGoesAwayClosesTheStream) {
  StreamCapture streams;
  auto server = StartServer({}, streams.Handler());
  ASSERT_NE(server, nullptr);
  auto client = std::make_unique<TestClient>(server->port());
  ASSERT_TRUE(client->Send(Get("/events")));
  auto stream = streams.WaitFor(1);
  ASSERT_NE(stream, nullptr);
  ASSERT_TRUE(client->ReadHead().has_value());
  // Nothing is written: the server notices the hang-up by reading, not by a failed write.
  client.reset();
  ASSERT_TRUE(streams.WaitClosed(*stream));
  EXPECT_TRUE(stream->writer->closed());
  EXPECT_FALSE(stream->writer->Write("anyone there?"));
  EXPECT_EQ(stream->closes.load(), 1);

  // The server serves on.
  TestClient next(server->port());
  ASSERT_TRUE(next.Send(Get("/events")));
  auto second = streams.WaitFor(2);
  ASSERT_NE(second, nullptr);
  EXPECT_FALSE(second->writer->closed());
}

TEST(HttpServerStreamTest, ClientThatDoesNotReadIsClosedAtTheQueueLimit) {
  HttpServerOptions options;
  options.max_stream_queue_bytes = 64 * 1024;
  StreamCapture streams;
  auto server = StartServer(options, streams.Handler());
  ASSERT_NE(server, nullptr);
  TestClient client(server->port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(client.Send(Get("/events")));
  auto stream = streams.WaitFor(1);
  ASSERT_NE(stream, nullptr);
  // Once the socket buffers are full the queue grows; the bound keeps a broken server from
  // looping forever (the buffers hold far less than this).
  const std::string chunk(16 * 1024, 'z');
  size_t accepted = 0;
  while (accepted < 8192 && stream->writer->Write(chunk)) ++accepted;
  EXPECT_LT(accepted, 8192u);
  EXPECT_TRUE(stream->writer->closed());
  ASSERT_TRUE(streams.WaitClosed(*stream));
  EXPECT_EQ(stream->closes.load(), 1);
  // The client finds the connection ended (cut short: the body never got its last chunk).
  auto rest = client.ReadToEnd();
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(rest->find("\r\n0\r\n\r\n"), std::string::npos);
}

TEST(HttpServerStreamTest, ShutdownClosesOpenStreamsWithoutWaitingForTheDrain) {
  StreamCapture streams;
  auto server = StartServer({}, streams.Handler());
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<TestClient>(server->port()));
    ASSERT_TRUE(clients.back()->Send(Get("/events")));
  }
  ASSERT_NE(streams.WaitFor(3), nullptr);
  const auto drain = std::chrono::seconds(60);
  const auto started = std::chrono::steady_clock::now();
  server->Shutdown(drain);
  EXPECT_LT(std::chrono::steady_clock::now() - started, drain);  // did not wait for the deadline
  for (const auto& stream : streams.All()) {
    EXPECT_EQ(stream->closes.load(), 1);  // before Shutdown returned
    EXPECT_FALSE(stream->writer->Write("after shutdown"));
  }
  for (auto& client : clients) EXPECT_TRUE(client->ReadToEnd().has_value());
  server.reset();
  for (const auto& stream : streams.All()) EXPECT_EQ(stream->closes.load(), 1);
}

TEST(HttpServerStreamTest, Http10StreamIsDelimitedByTheClose) {
  StreamCapture streams;
  auto server = StartServer({}, streams.Handler("first;"));
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send("GET /events HTTP/1.0\r\n\r\n"));
  auto head = client.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("transfer-encoding"), "");
  EXPECT_EQ(head->Header("content-length"), "");
  EXPECT_EQ(head->Header("connection"), "close");
  auto stream = streams.WaitFor(1);
  ASSERT_NE(stream, nullptr);
  EXPECT_EQ(client.ReadRaw(6), "first;");
  ASSERT_TRUE(stream->writer->Write("a;"));
  EXPECT_EQ(client.ReadRaw(2), "a;");  // live here too
  ASSERT_TRUE(stream->writer->Write("b;"));
  stream->writer->Close();
  EXPECT_EQ(client.ReadToEnd(), "b;");
  ASSERT_TRUE(streams.WaitClosed(*stream));
}

TEST(HttpServerStreamTest, HeadRequestGetsAPlainAnswerAndAClosedWriter) {
  StreamCapture streams;
  auto server = StartServer({}, streams.Handler("body"));
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send("HEAD /events HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = client.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("transfer-encoding"), "");
  auto stream = streams.WaitFor(1);
  ASSERT_NE(stream, nullptr);
  EXPECT_TRUE(stream->writer->closed());
  EXPECT_FALSE(stream->writer->Write("x"));
  EXPECT_EQ(stream->closes.load(), 1);
  // No body followed; the connection serves the next request.
  ASSERT_TRUE(client.Send(Get("/events")));
  auto next = client.ReadHead();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->Header("transfer-encoding"), "chunked");
}

TEST(HttpServerStreamTest, ProducerThatThrowsEndsTheStream) {
  auto server = StartServer({}, [](HttpRequest, HttpResponder respond) {
    HttpResponse response;
    response.stream = [](std::shared_ptr<HttpStreamWriter>) { throw std::runtime_error("oops"); };
    respond(std::move(response));
  });
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  ASSERT_TRUE(client.Send(Get("/events")));
  EXPECT_TRUE(client.ReadToEnd().has_value());
}

HttpResponse RestError(int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  response.body = "{\"error\":{\"code\":\"E" + std::to_string(status) + "\",\"message\":\"" +
                  std::string(message) + "\"}}";
  return response;
}

TEST(HttpServerTest, ErrorResponseShapesTheServersOwnAnswers) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  options.max_header_bytes = 1024;
  options.error_response = RestError;
  auto server = StartServer(options, [](HttpRequest request, HttpResponder respond) {
    if (request.target == "/drop") return;  // the responder goes uncalled
    Echo(std::move(request), std::move(respond));
  });
  ASSERT_NE(server, nullptr);
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(Post("/", std::string(4096, 'x'))));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 413);
    EXPECT_EQ(response->Header("content-type"), "application/json; charset=utf-8");
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_EQ(response->body,
              R"({"error":{"code":"E413","message":"request body exceeds 1024 bytes"}})");
    EXPECT_TRUE(client.ClosedByPeer());
  }
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(Post("/", "", "X-Big: " + std::string(4096, 'h') + "\r\n")));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 431);
    EXPECT_EQ(response->body,
              R"({"error":{"code":"E431","message":"request header exceeds 1024 bytes"}})");
  }
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nBad Header\r\n\r\n"));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400);
    EXPECT_THAT(response->body, StartsWith(R"({"error":{"code":"E400","message":"malformed)"));
  }
  {
    TestClient client(server->port());
    ASSERT_TRUE(client.Send(Post("/drop", "")));
    auto response = client.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->body, R"({"error":{"code":"E500","message":"the request handler )"
                              R"(dropped its responder"}})");
  }
}

}  // namespace
}  // namespace hpd::server

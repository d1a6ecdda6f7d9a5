// A small HTTP/1.1 server (Boost.Beast underneath, kept out of this header) that hands each
// request to one asynchronous handler.
//
// The handler receives the request and a responder. It may answer at once or later, from any
// thread: the engine replies after a group commit on its own thread, so the server never waits
// for a handler to return an answer. One request at a time is handled per connection (pipelined
// requests wait in the connection's buffer), keep-alive is HTTP/1.1's default and HTTP/1.0's
// opt-in, and the server itself answers what never reaches the handler:
//   413 body larger than max_body_bytes, 431 header larger than max_header_bytes,
//   400 malformed request; each with a small JSON body {"__type":...,"message":...} (or whatever
//   HttpServerOptions::error_response makes of it), after which the connection is closed.
//
// Threads: `threads` I/O threads run the sockets; a connection's work is serialised on a strand.
// The handler runs on an I/O thread and must not block: hand slow work to another thread and
// answer through the responder.
//
// Streamed responses (Server-Sent Events): a response whose `stream` member is set is sent with
// its status line and headers but no Content-Length (chunked for HTTP/1.1, close-delimited for
// HTTP/1.0), its `body` (if any) as the first chunk, and then whatever the producer writes through
// the HttpStreamWriter it is handed. The idle timeout does not apply to a streaming connection;
// the connection closes when the producer calls Close(), the client goes away, the writer's queue
// exceeds max_stream_queue_bytes (a client that does not read), or the server shuts down. The
// response always carries `Connection: close`: nothing follows a stream on its connection. Shutdown
// closes open streams at once (without the terminating chunk) rather than waiting out its drain;
// one whose producer has called Close() may finish within the drain, and one that the handler
// answers after Shutdown began is sent with its body and ended at once. A HEAD request, or a
// status that has no body (1xx, 204, 304), gets an ordinary response and a writer that is already
// closed.
#ifndef HPD_SERVER_HTTP_SERVER_H_
#define HPD_SERVER_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace hpd::server {

struct HttpRequest {
  std::string method;  // as sent, e.g. "POST"
  std::string target;  // request target as sent, e.g. "/" or "/v1/jobs?limit=5"
  std::string body;
  std::string remote_address;  // peer IP address, e.g. "127.0.0.1"
  // Header names lower-cased, values as sent, in the order received (repeats kept).
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of the header named `lower_name` (which must be lower-case), or "" if absent.
  std::string_view Header(std::string_view lower_name) const;
};

// Writes to a streamed response. Thread-safe; every call may come from any thread and never
// blocks: writes are queued on the connection's strand.
class HttpStreamWriter {
 public:
  virtual ~HttpStreamWriter() = default;
  // Queues `chunk` (sent as one HTTP chunk). False, and nothing queued, once the stream is
  // closed (by Close, the client, the queue limit or shutdown).
  virtual bool Write(std::string chunk) = 0;
  // Ends the response (the terminating chunk) after what is queued, then closes the connection.
  virtual void Close() = 0;
  virtual bool closed() const = 0;
  // Bytes written but not yet sent (framing included): a producer with much to send holds back
  // while this is high, instead of running into max_stream_queue_bytes.
  virtual size_t unsent_bytes() const = 0;
  // Calls `callback` once when the stream closes for any reason (at once if it already has),
  // on an I/O thread or the caller's. Replaces an earlier callback.
  virtual void OnClose(std::function<void()> callback) = 0;
};

struct HttpResponse {
  int status = 200;
  // Sent as given (Content-Type among them). Content-Length, Transfer-Encoding and Connection are
  // the server's to set and are dropped here; so is any header whose name or value holds CR or LF.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the response is streamed (see the file comment): called once, on an I/O thread,
  // after the status line and headers are queued, with the writer for the rest. It must not
  // block; it typically keeps the writer and returns.
  std::function<void(std::shared_ptr<HttpStreamWriter>)> stream;
};

// Delivers the response to a request. Call it exactly once, from any thread, before or after the
// handler returns. Copies share one state: the first call wins and later calls are ignored. A call
// after the client went away, or after the server shut down, is harmless (the response is
// dropped). If every copy is destroyed uncalled, the client receives a 500.
using HttpResponder = std::function<void(HttpResponse)>;

// Called on an I/O thread for each request, concurrently for different connections when the
// server has several threads; one connection's requests are handled one after another.
using HttpHandler = std::function<void(HttpRequest, HttpResponder)>;

struct HttpServerOptions {
  // An IP address literal ("127.0.0.1", "0.0.0.0", "::1") or "localhost" (127.0.0.1).
  std::string host = "127.0.0.1";
  uint16_t port = 0;   // 0 = any free port; port() tells which
  size_t threads = 1;  // I/O threads; 0 is taken as 1
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 * 1024;  // request line and header fields
  // A connection that sends nothing (between requests, or mid-request) or does not read its
  // response for this long is closed. Not applied while a handler is working on a request.
  std::chrono::seconds idle_timeout{60};
  // A streamed response whose unsent bytes exceed this is closed (its client is not reading).
  // Counted as sent on the wire, chunk framing included.
  size_t max_stream_queue_bytes = 4 << 20;
  // Shapes the answers the server gives itself (400 malformed request, 413, 431, and the 500 for a
  // handler that threw or dropped its responder), for an API whose error bodies look different.
  // `message` is the human-readable reason. Unset: {"__type":...,"message":...} as JSON. Content-
  // Length and Connection are still the server's, and a `stream` in the answer is ignored. Called
  // on an I/O thread (or wherever the last copy of a responder is dropped); must not block.
  std::function<HttpResponse(int status, std::string_view message)> error_response;
};

class HttpServer {
 public:
  // Binds and listens before returning, so the caller may announce readiness. Errors:
  // kInvalidArgument for a host that is not an IP literal or "localhost"; kUnavailable
  // ("address already in use: 127.0.0.1:8080") when the port is taken; kPermissionDenied for a
  // privileged port; kUnavailable for other socket failures. `handler` must be non-null.
  [[nodiscard]] static StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions options,
                                                                   HttpHandler handler);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Shutdown(std::chrono::milliseconds(0)) unless already shut down.
  ~HttpServer();

  // The bound port (the one chosen when options.port was 0).
  uint16_t port() const;
  const std::string& host() const;

  // Stops accepting (new connections are refused once this begins), closes idle connections,
  // lets requests whose handlers are in progress finish for up to `drain` (their responders still
  // deliver, then their connections close), then closes whatever is left and joins the I/O
  // threads. Handlers are not called after it returns. Idempotent; thread-safe; must not be called
  // from a handler.
  void Shutdown(std::chrono::milliseconds drain);

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::server

#endif  // HPD_SERVER_HTTP_SERVER_H_

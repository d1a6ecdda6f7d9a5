#include "server/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cassert>
#include <condition_variable>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/json.h"

namespace hpd::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using beast::error_code;

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

namespace {

// After an error response the client may still be sending (the rest of an over-size body, say).
// Closing at once would reset the connection and could destroy the response before the client
// reads it, so the server reads and discards for a while first ("lingering close", as nginx does).
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerMaxBytes = 64u << 20;
// Room in the read buffer beyond a maximal header, for the first body bytes and pipelined data.
constexpr size_t kReadBufferSlack = 64 * 1024;

std::string ErrorBody(std::string_view type, std::string_view message) {
  std::string body = "{\"__type\":";
  AppendJsonString(type, &body);
  body += ",\"message\":";
  AppendJsonString(message, &body);
  body += '}';
  return body;
}

HttpResponse JsonError(int status, std::string_view type, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = ErrorBody(type, message);
  return response;
}

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

// Headers the server writes itself.
bool IsReservedHeader(std::string_view name) {
  return IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
         IEquals(name, "connection");
}

bool HasLineBreak(std::string_view text) { return text.find_first_of("\r\n") != text.npos; }

// 1xx, 204 and 304 responses carry neither a body nor Content-Length (RFC 9110 8.6, 9112 6.3).
bool StatusHasBody(int status) { return status >= 200 && status != 204 && status != 304; }

void AppendDecimal(size_t value, std::string* out) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) out->push_back(digits[--n]);
}

class Connection;

// State shared by the server, its connections and outstanding responders. It outlives the
// HttpServer while a responder still holds a connection, so a late responder never touches freed
// memory.
struct ServerCore {
  ServerCore(HttpServerOptions opts, HttpHandler h)
      : options(std::move(opts)), handler(std::move(h)) {}

  // Constant after construction.
  const HttpServerOptions options;
  net::io_context ioc;

  // Called on I/O threads only; cleared (under no I/O thread) when the server is destroyed.
  HttpHandler handler;

  // Set when Shutdown begins: connections close instead of reading another request.
  std::atomic<bool> draining{false};

  // Guards `stopped` against a responder posting to an io_context whose threads have finished
  // (the posted work would then never run and would keep its connection alive forever).
  std::mutex post_mu;
  bool stopped = false;  // Guarded by post_mu.

  std::mutex registry_mu;
  std::condition_variable registry_cv;
  // Live connections, for Shutdown. Guarded by registry_mu.
  std::unordered_map<const void*, std::weak_ptr<Connection>> connections;

  // An answer the server gives itself, shaped by options.error_response when set.
  HttpResponse ErrorResponse(int status, std::string_view type, std::string_view message) const {
    if (!options.error_response) return JsonError(status, type, message);
    HttpResponse response = options.error_response(status, message);
    response.stream = nullptr;
    return response;
  }
};

// The producer's side of a streamed response. Bytes wait here, already framed, until the
// connection's strand takes them; the strand owns the socket, so this class never touches it and
// only posts to the strand when data waits and no flush is already on its way.
class StreamWriter final : public HttpStreamWriter {
 public:
  StreamWriter(std::weak_ptr<Connection> connection, bool chunked, size_t max_unsent)
      : connection_(std::move(connection)), chunked_(chunked), max_unsent_(max_unsent) {}

  bool Write(std::string chunk) override;
  void Close() override;
  bool closed() const override {
    std::lock_guard lock(mu_);
    return !accepting_;
  }
  size_t unsent_bytes() const override {
    std::lock_guard lock(mu_);
    return unsent_;
  }
  void OnClose(std::function<void()> callback) override {
    {
      std::lock_guard lock(mu_);
      if (!ended_) {
        on_close_ = std::move(callback);
        return;
      }
    }
    if (callback) callback();
  }

  // The rest is for the connection, on its strand.

  // The response body goes first, ahead of anything the producer writes; the head being written
  // counts as the flush in progress.
  void Prime(std::string_view body) {
    std::lock_guard lock(mu_);
    if (!body.empty()) Frame(body);
    flush_scheduled_ = true;
  }

  // What waits to be sent, taken off the queue. Empty when nothing waits; then `*finish` tells
  // whether the producer closed the stream (the terminator has been sent: close the connection)
  // and the next Write posts a flush again.
  std::string TakePending(bool* finish) {
    std::lock_guard lock(mu_);
    *finish = false;
    if (pending_.empty()) {
      flush_scheduled_ = false;
      *finish = close_requested_;
      return {};
    }
    return std::exchange(pending_, {});
  }

  // Close was called: the stream ends once what is queued has been sent.
  bool finishing() const {
    std::lock_guard lock(mu_);
    return close_requested_;
  }

  void Sent(size_t bytes) {
    std::lock_guard lock(mu_);
    unsent_ -= std::min(bytes, unsent_);
  }

  // The connection has closed: refuse writes and tell the producer, once.
  void Ended() {
    std::function<void()> callback;
    {
      std::lock_guard lock(mu_);
      if (ended_) return;
      ended_ = true;
      accepting_ = false;
      std::string().swap(pending_);
      callback = std::move(on_close_);
    }
    if (callback) callback();
  }

 private:
  void Frame(std::string_view data) {  // Requires mu_.
    const size_t before = pending_.size();
    if (chunked_) {
      static constexpr char kHex[] = "0123456789abcdef";
      char digits[2 * sizeof(size_t)];
      size_t n = 0;
      size_t size = data.size();
      do {
        digits[n++] = kHex[size % 16];
        size /= 16;
      } while (size != 0);
      while (n > 0) pending_.push_back(digits[--n]);
      pending_ += "\r\n";
      pending_ += data;
      pending_ += "\r\n";
    } else {
      pending_ += data;
    }
    unsent_ += pending_.size() - before;
  }

  // Runs Connection::FlushStream or Connection::AbortStream on the connection's strand, unless
  // the connection or the server is gone (the stream is then closed or about to be).
  void PostToConnection(bool abort);

  // Constant after construction.
  const std::weak_ptr<Connection> connection_;
  const bool chunked_;
  const size_t max_unsent_;

  mutable std::mutex mu_;
  bool accepting_ = true;           // Guarded by mu_. False after Close, the limit, or the end.
  bool close_requested_ = false;    // Guarded by mu_. Close was called: finish after pending_.
  bool ended_ = false;              // Guarded by mu_. The connection has closed.
  bool flush_scheduled_ = false;    // Guarded by mu_. A flush is posted or a write in flight.
  std::string pending_;             // Guarded by mu_. Framed bytes the strand has not taken.
  size_t unsent_ = 0;               // Guarded by mu_. pending_ plus the write in flight.
  std::function<void()> on_close_;  // Guarded by mu_.
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<ServerCore> core)
      : core_(std::move(core)),
        stream_(std::move(socket)),
        buffer_(core_->options.max_header_bytes + kReadBufferSlack) {
    error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_address_ = endpoint.address().to_string();
  }

  ~Connection() {
    if (writer_) writer_->Ended();  // normally done by Close, on the strand
    std::lock_guard lock(core_->registry_mu);
    core_->connections.erase(this);
    core_->registry_cv.notify_all();
  }

  void Register() {
    std::lock_guard lock(core_->registry_mu);
    core_->connections.emplace(this, weak_from_this());
  }

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadHeader(); });
  }

  // Shutdown's first step, on the strand: an idle connection closes now, a busy one after its
  // response. An open stream has no end to wait for, so it closes now too, unless its producer
  // has closed it already and only the rest of it is still being sent.
  void BeginDrain() {
    if (state_ == State::kReading || state_ == State::kLingering ||
        (state_ == State::kStreaming && !writer_->finishing())) {
      Close();
    }
  }

  // Shutdown's last step, on the strand.
  void ForceClose() { Close(); }

  // On the strand, from a responder.
  void Deliver(HttpResponse response) {
    if (state_ != State::kHandling) return;  // closed meanwhile
    if (response.stream) return StartStream(std::move(response));
    state_ = State::kWriting;
    const bool close_after = !keep_alive_ || core_->draining.load(std::memory_order_relaxed);
    Write(std::move(response), close_after ? AfterWrite::kClose : AfterWrite::kReadNext);
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  // From any thread: runs `action` on the strand unless the server has stopped running handlers.
  void Post(void (Connection::*action)()) {
    std::lock_guard lock(core_->post_mu);
    if (core_->stopped) return;
    net::post(stream_.get_executor(), [self = shared_from_this(), action] { (*self.*action)(); });
  }

  // On the strand, when the writer has bytes and no flush was on its way.
  void FlushStream() {
    if (state_ != State::kStreaming || stream_writing_) return;
    bool finish = false;
    stream_out_ = writer_->TakePending(&finish);
    if (stream_out_.empty()) {
      if (!finish) return;
      // The terminating chunk is out (or, close-delimited, the end is the close itself).
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return Close();
    }
    stream_writing_ = true;
    net::async_write(stream_, net::buffer(stream_out_),
                     [self = shared_from_this()](error_code ec, size_t) {
                       self->stream_writing_ = false;
                       if (self->state_ != State::kStreaming) return;
                       if (ec) return self->Close();
                       self->writer_->Sent(self->stream_out_.size());
                       if (self->stream_out_.capacity() > 64 * 1024) {
                         std::string().swap(self->stream_out_);
                       }
                       self->FlushStream();
                     });
  }

  // On the strand, when the writer's queue went over the limit.
  void AbortStream() {
    if (state_ == State::kStreaming) Close();
  }

 private:
  enum class State { kReading, kHandling, kWriting, kStreaming, kLingering, kClosed };
  enum class AfterWrite { kReadNext, kClose, kLinger };

  void ReadHeader() {
    if (state_ == State::kClosed) return;
    if (core_->draining.load(std::memory_order_relaxed)) return Close();
    state_ = State::kReading;
    http10_ = false;
    head_request_ = false;
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<size_t>(core_->options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(core_->options.max_body_bytes));
    stream_.expires_after(core_->options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    if (ec) return OnReadError(ec);
    if (!parser_->is_done() && IEquals(View(parser_->get()[http::field::expect]), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      stream_.expires_after(core_->options.idle_timeout);
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](error_code write_ec, size_t) {
                         if (write_ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (state_ == State::kClosed) return;
    if (parser_->is_done()) return Dispatch();
    stream_.expires_after(core_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  void OnReadError(error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec == http::error::body_limit ||
        (ec == http::error::buffer_overflow && parser_->is_header_done())) {
      return WriteError(
          413, "RequestEntityTooLarge",
          "request body exceeds " + std::to_string(core_->options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return WriteError(
          431, "RequestHeaderFieldsTooLarge",
          "request header exceeds " + std::to_string(core_->options.max_header_bytes) + " bytes");
    }
    // A malformed message is answered; a vanished or silent peer (end of stream, reset, timeout,
    // a message cut short by EOF) is not.
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message &&
        ec != http::error::short_read) {
      return WriteError(400, "BadRequest", "malformed HTTP request: " + ec.message());
    }
    Close();
  }

  void WriteError(int status, std::string_view type, std::string_view message) {
    state_ = State::kWriting;
    keep_alive_ = false;
    Write(core_->ErrorResponse(status, type, message), AfterWrite::kLinger);
  }

  void Dispatch() {
    auto message = parser_->release();
    parser_.reset();
    keep_alive_ = message.keep_alive();
    http10_ = message.version() < 11;
    head_request_ = message.method() == http::verb::head;

    HttpRequest request;
    request.method = View(message.method_string());
    request.target = View(message.target());
    request.remote_address = remote_address_;
    request.headers.reserve(static_cast<size_t>(std::distance(message.begin(), message.end())));
    for (const auto& field : message) {
      std::string name(View(field.name_string()));
      for (char& c : name) c = AsciiLower(c);
      request.headers.emplace_back(std::move(name), View(field.value()));
    }
    request.body = std::move(message.body());

    state_ = State::kHandling;
    stream_.expires_never();  // the handler may take as long as it needs
    auto responder_state = std::make_shared<ResponderState>(shared_from_this());
    try {
      core_->handler(std::move(request), [responder_state](HttpResponse response) {
        responder_state->Respond(std::move(response));
      });
    } catch (const std::exception& e) {
      responder_state->Respond(core_->ErrorResponse(
          500, "InternalFailure", std::string("request handler threw: ") + e.what()));
    } catch (...) {
      responder_state->Respond(
          core_->ErrorResponse(500, "InternalFailure", "request handler threw"));
    }
  }

  // The status line and the handler's headers, into head_.
  void StartHead(HttpResponse* response) {
    if (response->status < 100 || response->status > 999) response->status = 500;
    head_.clear();
    head_ += "HTTP/1.1 ";
    AppendDecimal(static_cast<size_t>(response->status), &head_);
    head_ += ' ';
    head_ += View(http::obsolete_reason(static_cast<http::status>(response->status)));
    head_ += "\r\n";
    for (const auto& [name, value] : response->headers) {
      if (name.empty() || IsReservedHeader(name) || HasLineBreak(name) || HasLineBreak(value)) {
        continue;
      }
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
  }

  void Write(HttpResponse response, AfterWrite after) {
    StartHead(&response);
    const bool has_body = StatusHasBody(response.status);
    if (has_body) {
      head_ += "Content-Length: ";
      AppendDecimal(response.body.size(), &head_);
      head_ += "\r\n";
    }
    if (after != AfterWrite::kReadNext) {
      head_ += "Connection: close\r\n";
    } else if (http10_) {
      head_ += "Connection: keep-alive\r\n";
    }
    head_ += "\r\n";
    body_ = std::move(response.body);
    if (!has_body || head_request_) body_.clear();

    const std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body_)};
    stream_.expires_after(core_->options.idle_timeout);
    net::async_write(stream_, buffers, [self = shared_from_this(), after](error_code ec, size_t) {
      self->OnWritten(ec, after);
    });
  }

  // On the strand: the head now, then the body and the producer's chunks as they come.
  void StartStream(HttpResponse response) {
    auto produce = std::move(response.stream);
    response.stream = nullptr;
    if (!StatusHasBody(response.status) || head_request_) {
      // Nothing may follow this head: answer as usual and hand over a writer that is done.
      auto writer = std::make_shared<StreamWriter>(weak_from_this(), false, 0);
      writer->Ended();
      Deliver(std::move(response));
      return CallProducer(produce, std::move(writer));
    }
    state_ = State::kStreaming;
    StartHead(&response);
    const bool chunked = !http10_;
    if (chunked) head_ += "Transfer-Encoding: chunked\r\n";
    head_ += "Connection: close\r\n\r\n";
    writer_ = std::make_shared<StreamWriter>(weak_from_this(), chunked,
                                             core_->options.max_stream_queue_bytes);
    writer_->Prime(response.body);
    std::string().swap(body_);

    // A stream may stay quiet for as long as its producer likes, and a client that does not read
    // is caught by the queue limit instead.
    stream_.expires_never();
    stream_writing_ = true;
    net::async_write(stream_, net::buffer(head_),
                     [self = shared_from_this()](error_code ec, size_t) {
                       self->stream_writing_ = false;
                       if (self->state_ != State::kStreaming) return;
                       if (ec) return self->Close();
                       self->FlushStream();
                     });
    WatchForHangUp();
    // Shutdown has begun: what the handler answered is sent, but the stream ends with it rather
    // than holding the drain up. The producer gets a writer that is already closed.
    if (core_->draining.load(std::memory_order_relaxed)) writer_->Close();
    CallProducer(produce, writer_);
  }

  void CallProducer(const std::function<void(std::shared_ptr<HttpStreamWriter>)>& produce,
                    std::shared_ptr<StreamWriter> writer) {
    try {
      produce(std::move(writer));
    } catch (...) {
      // The head is out already, so there is no error to answer with: end the stream instead.
      if (state_ == State::kStreaming) Close();
    }
  }

  // A client that goes away is noticed only by reading: the read completes with end of stream or
  // an error. Anything the client sends on a stream's connection is discarded. This read is always
  // pending while the stream is open, and it is what keeps the connection alive between writes
  // (the writer holds it weakly, so a producer that keeps a writer does not keep a socket).
  void WatchForHangUp() {
    stream_.async_read_some(net::buffer(linger_buffer_),
                            [self = shared_from_this()](error_code ec, size_t) {
                              if (self->state_ != State::kStreaming) return;
                              if (ec) return self->Close();
                              self->WatchForHangUp();
                            });
  }

  void OnWritten(error_code ec, AfterWrite after) {
    if (state_ == State::kClosed) return;
    if (ec) return Close();
    // Large bodies are not kept alive in the connection between requests.
    if (body_.capacity() > 64 * 1024) std::string().swap(body_);
    switch (after) {
      case AfterWrite::kReadNext:
        return ReadHeader();
      case AfterWrite::kClose: {
        error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return Close();
      }
      case AfterWrite::kLinger:
        return Linger();
    }
  }

  void Linger() {
    state_ = State::kLingering;
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    buffer_.clear();
    linger_deadline_ = std::chrono::steady_clock::now() + kLingerTime;
    lingered_bytes_ = 0;
    LingerRead();
  }

  void LingerRead() {
    if (state_ == State::kClosed) return;
    const auto now = std::chrono::steady_clock::now();
    if (now >= linger_deadline_ || lingered_bytes_ > kLingerMaxBytes) return Close();
    stream_.expires_after(linger_deadline_ - now);
    stream_.async_read_some(net::buffer(linger_buffer_),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (ec) return self->Close();
                              self->lingered_bytes_ += n;
                              self->LingerRead();
                            });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    stream_.close();
    if (writer_) std::exchange(writer_, nullptr)->Ended();
  }

  // Shared by every copy of one request's HttpResponder.
  class ResponderState {
   public:
    explicit ResponderState(std::shared_ptr<Connection> connection)
        : connection_(std::move(connection)) {}
    ~ResponderState() {
      if (!responded_.load(std::memory_order_acquire)) {
        Respond(connection_->core_->ErrorResponse(500, "InternalFailure",
                                                  "the request handler dropped its responder"));
      }
    }

    void Respond(HttpResponse response) {
      if (responded_.exchange(true, std::memory_order_acq_rel)) return;
      std::shared_ptr<Connection> connection = std::move(connection_);
      ServerCore& core = *connection->core_;
      std::lock_guard lock(core.post_mu);
      if (core.stopped) return;
      net::any_io_executor executor = connection->executor();
      net::post(executor,
                [connection = std::move(connection), response = std::move(response)]() mutable {
                  connection->Deliver(std::move(response));
                });
    }

   private:
    std::atomic<bool> responded_{false};
    std::shared_ptr<Connection> connection_;  // Released by the one Respond call.
  };

  const std::shared_ptr<ServerCore> core_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;  // reused for every request of the connection
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_address_;
  std::string head_;                      // response status line and headers, reused
  std::string body_;                      // response body being written
  std::shared_ptr<StreamWriter> writer_;  // while streaming
  std::string stream_out_;                // stream bytes being written
  bool stream_writing_ = false;           // a write of the head or stream_out_ is in flight
  State state_ = State::kReading;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool head_request_ = false;
  std::chrono::steady_clock::time_point linger_deadline_;
  size_t lingered_bytes_ = 0;
  std::array<char, 4096> linger_buffer_;  // also where a stream's client input is discarded
};

bool StreamWriter::Write(std::string chunk) {
  bool over_limit = false;
  bool post = false;
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return false;
    if (chunk.empty()) return true;  // an empty chunk would end a chunked body
    // The framing adds at most 20 bytes; counting it keeps the limit what the wire sees.
    if (unsent_ + chunk.size() + 20 > max_unsent_) {
      accepting_ = false;
      over_limit = true;
    } else {
      Frame(chunk);
      post = !flush_scheduled_;
      flush_scheduled_ = true;
    }
  }
  if (over_limit || post) PostToConnection(/*abort=*/over_limit);
  return !over_limit;
}

void StreamWriter::Close() {
  bool post = false;
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return;
    accepting_ = false;
    close_requested_ = true;
    if (chunked_) {
      static constexpr std::string_view kLastChunk = "0\r\n\r\n";
      pending_ += kLastChunk;
      unsent_ += kLastChunk.size();
    }
    post = !flush_scheduled_;
    flush_scheduled_ = true;
  }
  if (post) PostToConnection(/*abort=*/false);
}

void StreamWriter::PostToConnection(bool abort) {
  if (auto connection = connection_.lock()) {
    connection->Post(abort ? &Connection::AbortStream : &Connection::FlushStream);
  }
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(std::shared_ptr<ServerCore> core, tcp::acceptor acceptor, std::string host)
      : core_(std::move(core)),
        acceptor_(std::move(acceptor)),
        retry_timer_(acceptor_.get_executor()),
        host_(std::move(host)),
        work_(net::make_work_guard(core_->ioc)) {
    error_code ec;
    port_ = acceptor_.local_endpoint(ec).port();
  }

  ~Impl() {
    Shutdown(std::chrono::milliseconds(0));
    // No I/O thread runs any more: drop the user's handler (and whatever it captured) now rather
    // than when the last late responder lets go of the core.
    core_->handler = nullptr;
  }

  void Run() {
    net::post(acceptor_.get_executor(), [this] { Accept(); });
    const size_t n = std::max<size_t>(1, core_->options.threads);
    threads_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      threads_.emplace_back([this] { core_->ioc.run(); });
    }
  }

  uint16_t port() const { return port_; }
  const std::string& host() const { return host_; }

  void Shutdown(std::chrono::milliseconds drain) {
    std::lock_guard shutdown_lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;

    core_->draining.store(true);
    std::promise<void> closed;
    net::post(acceptor_.get_executor(), [this, &closed] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
      closed.set_value();
    });
    closed.get_future().wait();

    ForEachConnection([](const std::shared_ptr<Connection>& c) { c->BeginDrain(); });
    {
      std::unique_lock lock(core_->registry_mu);
      core_->registry_cv.wait_for(lock, drain, [this] { return core_->connections.empty(); });
    }
    {
      std::lock_guard lock(core_->post_mu);
      core_->stopped = true;
    }
    ForEachConnection([](const std::shared_ptr<Connection>& c) { c->ForceClose(); });
    // With every socket closed and no responder able to post, the threads run out of work.
    work_.reset();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(core_->ioc), [this](error_code ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open() || ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors, say: wait a little instead of spinning on the error.
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([this](error_code timer_ec) {
        if (!timer_ec && acceptor_.is_open()) Accept();
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto connection = std::make_shared<Connection>(std::move(socket), core_);
    connection->Register();
    connection->Start();
    Accept();
  }

  void ForEachConnection(void (*action)(const std::shared_ptr<Connection>&)) {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(core_->registry_mu);
      live.reserve(core_->connections.size());
      for (const auto& [key, weak] : core_->connections) {
        if (auto connection = weak.lock()) live.push_back(std::move(connection));
      }
    }
    for (auto& connection : live) {
      net::post(connection->executor(), [connection, action] { action(connection); });
    }
  }

  const std::shared_ptr<ServerCore> core_;
  tcp::acceptor acceptor_;  // used on its own strand
  net::steady_timer retry_timer_;
  const std::string host_;
  uint16_t port_ = 0;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::vector<std::thread> threads_;

  std::mutex shutdown_mu_;
  bool shut_down_ = false;  // Guarded by shutdown_mu_.
};

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options,
                                                        HttpHandler handler) {
  assert(handler);
  if (!handler) return InvalidArgumentError("HttpServer::Start: null handler");
  error_code ec;
  net::ip::address address;
  if (options.host == "localhost") {
    address = net::ip::address_v4::loopback();
  } else {
    address = net::ip::make_address(options.host, ec);
    if (ec) {
      return InvalidArgumentError("invalid listen host \"" + options.host +
                                  "\": expected an IP address or localhost");
    }
  }
  const tcp::endpoint endpoint(address, options.port);
  const std::string where =
      (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
      std::to_string(options.port);

  auto core = std::make_shared<ServerCore>(options, std::move(handler));
  tcp::acceptor acceptor(net::make_strand(core->ioc));
  if (acceptor.open(endpoint.protocol(), ec)) {
    return UnavailableError("cannot open a socket for " + where + ": " + ec.message());
  }
  // Lets a restarted server bind while old connections sit in TIME_WAIT; on Linux it does not
  // let two servers listen on one address and port.
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec)) {
    if (ec == net::error::address_in_use) {
      return UnavailableError("address already in use: " + where);
    }
    if (ec == net::error::access_denied) {
      return PermissionDeniedError("permission denied binding " + where);
    }
    if (ec == boost::system::errc::address_not_available) {
      return InvalidArgumentError("cannot bind " + where + ": address not available on this host");
    }
    return UnavailableError("cannot bind " + where + ": " + ec.message());
  }
  if (acceptor.listen(net::socket_base::max_listen_connections, ec)) {
    if (ec == net::error::address_in_use) {
      return UnavailableError("address already in use: " + where);
    }
    return UnavailableError("cannot listen on " + where + ": " + ec.message());
  }

  auto impl = std::make_unique<Impl>(std::move(core), std::move(acceptor), options.host);
  impl->Run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

uint16_t HttpServer::port() const { return impl_->port(); }
const std::string& HttpServer::host() const { return impl_->host(); }
void HttpServer::Shutdown(std::chrono::milliseconds drain) { impl_->Shutdown(drain); }

}  // namespace hpd::server

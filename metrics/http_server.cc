// An HTTP/1.1 listener on asio (and asio::ssl for HTTPS); see http_server.h. Each connection gets
// one request: its head is read (at most kMaxHeadBytes), answered whole, and the connection
// closed. A connection that does not finish within kConnectionTimeout is closed, so a client that
// connects and says nothing holds nothing for long, and past kMaxConnections open at once a new
// one is closed at once: a flood of connections cannot take every file descriptor acdd has.
#include "metrics/http_server.h"

#include <atomic>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asio/buffer.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/read_until.hpp"
#include "asio/ssl.hpp"
#include "asio/steady_timer.hpp"
#include "asio/strand.hpp"
#include "asio/streambuf.hpp"
#include "asio/write.hpp"

namespace acd::metrics {
namespace {

constexpr size_t kMaxHeadBytes = 16 * 1024;
constexpr auto kConnectionTimeout = std::chrono::seconds(10);
constexpr int kThreads = 2;
constexpr int kMaxConnections = 256;
// How often HTTPS re-reads its certificate and key (as gRPC's listener does): a renewed
// certificate is served without a restart; files that do not load leave the one in force.
constexpr auto kTlsRefresh = std::chrono::seconds(60);

std::string Reply(int code, absl::string_view reason, absl::string_view content_type,
                  absl::string_view extra_headers, const std::string& body, bool head_only) {
  std::string out =
      absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ", content_type,
                   "\r\nContent-Length: ", body.size(),
                   "\r\nCache-Control: no-store\r\nConnection: close\r\n", extra_headers, "\r\n");
  if (!head_only) out += body;
  return out;
}

std::string Error(int code, absl::string_view reason, absl::string_view extra_headers = "") {
  return Reply(code, reason, "text/plain; charset=utf-8", extra_headers,
               absl::StrCat(absl::AsciiStrToLower(reason), "\n"), false);
}

// One connection, plain (Stream = tcp::socket) or TLS (Stream = ssl::stream<tcp::socket>).
template <typename Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  // `tls`: the TLS context the stream was made with (null for plain HTTP), kept alive as long as
  // the connection even when a renewed certificate replaces it for new connections.
  // `ticket`: held as long as the connection (it counts open connections).
  template <typename... Args>
  // `strand`: the connection's own, which its socket and timer run on, so that its handlers never
  // run at once on the listener's two threads.
  Connection(std::shared_ptr<void> ticket, std::function<std::string(absl::string_view)> answer,
             const asio::any_io_executor& strand, std::shared_ptr<asio::ssl::context> tls,
             Args&&... stream_args)
      : ticket_(std::move(ticket)),
        answer_(std::move(answer)),
        tls_(std::move(tls)),
        stream_(std::forward<Args>(stream_args)...),
        buffer_(kMaxHeadBytes),
        deadline_(strand) {}

  void Start() {
    auto self = this->shared_from_this();
    deadline_.expires_after(kConnectionTimeout);
    deadline_.async_wait([self](const asio::error_code& error) {
      if (!error) self->Close();
    });
    if constexpr (std::is_same_v<Stream, asio::ip::tcp::socket>) {
      ReadHead();
    } else {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self](const asio::error_code& error) {
                                if (error) return self->Close();
                                self->ReadHead();
                              });
    }
  }

 private:
  asio::ip::tcp::socket& socket() {
    if constexpr (std::is_same_v<Stream, asio::ip::tcp::socket>) {
      return stream_;
    } else {
      return stream_.next_layer();
    }
  }

  void ReadHead() {
    auto self = this->shared_from_this();
    asio::async_read_until(
        stream_, buffer_, "\r\n\r\n", [self](const asio::error_code& error, size_t bytes) {
          if (error == asio::error::not_found) {  // the head outgrew the buffer
            return self->Send(Error(431, "Request Header Fields Too Large"));
          }
          if (error) return self->Close();
          absl::string_view head(static_cast<const char*>(self->buffer_.data().data()), bytes);
          self->Send(self->answer_(head));
        });
  }

  void Send(std::string reply) {
    reply_ = std::move(reply);
    auto self = this->shared_from_this();
    asio::async_write(stream_, asio::buffer(reply_), [self](const asio::error_code&, size_t) {
      if constexpr (std::is_same_v<Stream, asio::ip::tcp::socket>) {
        self->Close();
      } else {
        self->stream_.async_shutdown([self](const asio::error_code&) { self->Close(); });
      }
    });
  }

  void Close() {
    asio::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
    deadline_.cancel();
  }

  std::shared_ptr<void> ticket_;
  std::function<std::string(absl::string_view)> answer_;
  std::shared_ptr<asio::ssl::context> tls_;  // declared before stream_: outlives it
  Stream stream_;
  asio::streambuf buffer_;
  asio::steady_timer deadline_;
  std::string reply_;
};

}  // namespace

class HttpServer::Listener {
 public:
  explicit Listener(const HttpServer* server)
      : server_(server), acceptor_(io_), tls_refresh_(io_) {}
  ~Listener() { Stop(); }

  absl::Status Start(const std::string& listen, const HttpTls& tls) {
    if (!tls.certificate_file.empty() || !tls.key_file.empty()) {
      tls_files_ = tls;
      absl::StatusOr<std::shared_ptr<asio::ssl::context>> loaded = LoadTls(tls);
      if (!loaded.ok()) return loaded.status();
      tls_ = *std::move(loaded);
      RefreshTls();
    }
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("HTTP listen address ", listen, ": HOST:PORT, e.g. 127.0.0.1:9464"));
    }
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    asio::error_code error;
    asio::ip::tcp::resolver resolver(io_);
    auto endpoints =
        resolver.resolve(host, listen.substr(colon + 1), asio::ip::tcp::resolver::passive, error);
    if (error || endpoints.empty()) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen for HTTP on ", listen, ": ", error.message()));
    }
    const asio::ip::tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen for HTTP on ", listen, ": ", error.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    Accept();
    for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { io_.run(); });
    return absl::OkStatus();
  }

  void Stop() {
    io_.stop();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

  int port() const { return port_; }

 private:
  static absl::StatusOr<std::shared_ptr<asio::ssl::context>> LoadTls(const HttpTls& tls) {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    asio::error_code error;
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1,
                         error);
    if (!error) context->use_certificate_chain_file(tls.certificate_file, error);
    if (error) {
      return absl::InvalidArgumentError(absl::StrCat("HTTPS: cannot load the certificate ",
                                                     tls.certificate_file, ": ", error.message()));
    }
    context->use_private_key_file(tls.key_file, asio::ssl::context::pem, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("HTTPS: cannot load the key ", tls.key_file, ": ", error.message()));
    }
    return context;
  }

  void RefreshTls() {
    tls_refresh_.expires_after(kTlsRefresh);
    tls_refresh_.async_wait([this](const asio::error_code& error) {
      if (error) return;
      absl::StatusOr<std::shared_ptr<asio::ssl::context>> loaded = LoadTls(tls_files_);
      if (loaded.ok()) {
        std::lock_guard<std::mutex> lock(tls_mu_);
        tls_ = *std::move(loaded);
      }
      RefreshTls();
    });
  }

  std::shared_ptr<asio::ssl::context> tls() {
    std::lock_guard<std::mutex> lock(tls_mu_);
    return tls_;
  }

  void Accept() {
    // Each connection gets a strand of its own: its socket's and its timer's handlers run one at
    // a time.
    acceptor_.async_accept(asio::make_strand(io_), [this](const asio::error_code& error,
                                                          asio::ip::tcp::socket socket) {
      if (!acceptor_.is_open()) return;
      if (!error && open_connections_.load() >= kMaxConnections) {
        asio::error_code ignored;
        socket.close(ignored);
      } else if (!error) {
        ++open_connections_;
        std::shared_ptr<void> ticket(nullptr, [this](void*) { --open_connections_; });
        auto answer = [server = server_](absl::string_view head) { return server->Answer(head); };
        const asio::any_io_executor strand = socket.get_executor();
        if (std::shared_ptr<asio::ssl::context> tls = this->tls()) {
          std::make_shared<Connection<asio::ssl::stream<asio::ip::tcp::socket>>>(
              std::move(ticket), answer, strand, tls, std::move(socket), *tls)
              ->Start();
        } else {
          std::make_shared<Connection<asio::ip::tcp::socket>>(std::move(ticket), answer, strand,
                                                              nullptr, std::move(socket))
              ->Start();
        }
      }
      Accept();
    });
  }

  const HttpServer* server_;
  HttpTls tls_files_;
  std::mutex tls_mu_;
  std::shared_ptr<asio::ssl::context> tls_;  // null: plain HTTP; each connection holds its own
  std::atomic<int> open_connections_{0};     // before io_: its connections count down into it
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer tls_refresh_;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

HttpServer::HttpServer() = default;
HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string path, std::string content_type,
                       std::function<std::string()> body) {
  routes_.push_back(RouteEntry{std::move(path), std::move(content_type), std::move(body)});
}

void HttpServer::Authorize(std::function<int(absl::string_view)> authorize) {
  authorize_ = std::move(authorize);
}

std::string HttpServer::Answer(absl::string_view head) const {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::vector<absl::string_view> request_line = absl::StrSplit(lines[0], ' ');
  if (request_line.size() != 3 || !absl::StartsWith(request_line[2], "HTTP/1.")) {
    return Error(400, "Bad Request");
  }
  const absl::string_view method = request_line[0];
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only)
    return Error(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
  absl::string_view authorization;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon != absl::string_view::npos &&
        absl::EqualsIgnoreCase(lines[i].substr(0, colon), "authorization")) {
      authorization = absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    }
  }
  if (authorize_) {
    switch (authorize_(authorization)) {
      case 200:
        break;
      case 403:
        return Error(403, "Forbidden");
      default:
        return Error(401, "Unauthorized",
                     "WWW-Authenticate: Basic realm=\"acd\", charset=\"UTF-8\"\r\n");
    }
  }
  absl::string_view path = request_line[1];
  path = path.substr(0, path.find('?'));
  for (const RouteEntry& route : routes_) {
    if (route.path == path) {
      return Reply(200, "OK", route.content_type, "", route.body(), head_only);
    }
  }
  return Error(404, "Not Found");
}

absl::Status HttpServer::Start(const std::string& listen, const HttpTls& tls) {
  listener_ = std::make_unique<Listener>(this);
  absl::Status s = listener_->Start(listen, tls);
  if (!s.ok()) {
    listener_.reset();
    return s;
  }
  port_ = listener_->port();
  return absl::OkStatus();
}

void HttpServer::Stop() { listener_.reset(); }

}  // namespace acd::metrics

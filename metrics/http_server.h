// HttpServer is acdd's HTTP listener: a few exact GET routes that each answer a whole body made
// by a function (/metrics, the wallboard and its JSON), over plain HTTP or HTTPS, optionally
// behind a token check. One request per connection (Connection: close). Handlers run on the
// listener's own two threads, never on the engine thread; they must only read what the engine
// publishes.
//   HttpServer http;
//   http.Route("/metrics", "text/plain; version=0.0.4", [&] { return Serialize(...); });
//   http.Authorize([&](absl::string_view authorization) { return access.AdmitHttp(authorization);
//   }); absl::Status s = http.Start("127.0.0.1:0", {.certificate_file = "server.pem",
//                                                 .key_file = "server.key"});   // then http.port()
#ifndef ACD_METRICS_HTTP_SERVER_H_
#define ACD_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace acd::metrics {

// HTTPS: the server's certificate chain and private key, PEM files. Both empty: plain HTTP.
struct HttpTls {
  std::string certificate_file;
  std::string key_file;
};

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers GET (and HEAD) `path` (exactly; a query string is ignored) with `content_type` and
  // what `body` returns. Before Start only.
  void Route(std::string path, std::string content_type, std::function<std::string()> body);
  // Every request's Authorization header (empty when it has none) goes to `authorize`, which
  // answers 200 (serve it), 401 (who are you: the reply asks for Basic credentials) or 403.
  // Unset: every request is served. Before Start only.
  void Authorize(std::function<int(absl::string_view authorization)> authorize);
  // Listens on HOST:PORT (port 0: a free one; HOST may be a name, an IPv4 or a [IPv6] address).
  // UNAVAILABLE when the address cannot be bound, INVALID_ARGUMENT when the TLS files do not
  // load.
  absl::Status Start(const std::string& listen, const HttpTls& tls = {});
  void Stop();
  int port() const { return port_; }

 private:
  struct RouteEntry {
    std::string path, content_type;
    std::function<std::string()> body;
  };
  class Listener;
  // The whole answer to one request's head (request line and headers).
  std::string Answer(absl::string_view head) const;

  std::vector<RouteEntry> routes_;
  std::function<int(absl::string_view)> authorize_;
  std::unique_ptr<Listener> listener_;
  int port_ = 0;
};

}  // namespace acd::metrics

#endif  // ACD_METRICS_HTTP_SERVER_H_

// HttpServer is acdd's HTTP listener (CivetWeb): GET routes that each answer a whole body made by
// a function, for /metrics, the wallboard and its JSON. Handlers run on CivetWeb's threads, never
// on the engine thread; they must only read what the engine publishes.
//   HttpServer http;
//   http.Route("/metrics", "text/plain; version=0.0.4", [&] { return Serialize(...); });
//   absl::Status s = http.Start("127.0.0.1:0");   // then http.port()
#ifndef ACD_METRICS_HTTP_SERVER_H_
#define ACD_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

struct mg_context;
struct mg_connection;

namespace acd::metrics {

class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Answers GET `path` (exactly) with `content_type` and what `body` returns. Before Start only.
  void Route(std::string path, std::string content_type, std::function<std::string()> body);
  // Listens on HOST:PORT (port 0: a free one). UNAVAILABLE when the address cannot be bound.
  absl::Status Start(const std::string& listen);
  void Stop();
  int port() const { return port_; }

 private:
  struct RouteEntry {
    HttpServer* server;
    std::string path, content_type;
    std::function<std::string()> body;
  };
  static int Handle(mg_connection* connection, void* route);

  std::vector<std::unique_ptr<RouteEntry>> routes_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace acd::metrics

#endif  // ACD_METRICS_HTTP_SERVER_H_

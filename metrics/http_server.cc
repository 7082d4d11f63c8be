// CivetWeb behind a few exact GET routes; see http_server.h.
#include "metrics/http_server.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "civetweb.h"

namespace acd::metrics {

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string path, std::string content_type,
                       std::function<std::string()> body) {
  routes_.push_back(std::make_unique<RouteEntry>(
      RouteEntry{this, std::move(path), std::move(content_type), std::move(body)}));
}

int HttpServer::Handle(mg_connection* connection, void* data) {
  const RouteEntry& route = *static_cast<const RouteEntry*>(data);
  const mg_request_info* request = mg_get_request_info(connection);
  // A handler set for "/x" also receives "/x/...": only the exact path is ours.
  if (request->local_uri == nullptr || route.path != request->local_uri) {
    mg_send_http_error(connection, 404, "not found\n");
    return 404;
  }
  const bool head = std::strcmp(request->request_method, "HEAD") == 0;
  if (std::strcmp(request->request_method, "GET") != 0 && !head) {
    mg_send_http_error(connection, 405, "only GET\n");
    return 405;
  }
  const std::string body = route.body();
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            route.content_type.c_str(), body.size());
  if (!head) mg_write(connection, body.data(), body.size());
  return 200;
}

absl::Status HttpServer::Start(const std::string& listen) {
  mg_init_library(0);
  const std::string ports = listen;
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", "4",
                           "enable_keep_alive", "no", nullptr};
  mg_callbacks callbacks{};
  // CivetWeb logs a failed bind through this callback; keep it quiet, the status says it.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  context_ = mg_start(&callbacks, nullptr, options);
  if (context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen for HTTP on ", listen));
  }
  for (auto& route : routes_) {
    mg_set_request_handler(context_, route->path.c_str(), &HttpServer::Handle, route.get());
  }
  mg_server_port bound[4];
  const int n = mg_get_server_ports(context_, 4, bound);
  port_ = n > 0 ? bound[0].port : 0;
  return absl::OkStatus();
}

void HttpServer::Stop() {
  if (context_ == nullptr) return;
  mg_stop(context_);
  context_ = nullptr;
}

}  // namespace acd::metrics

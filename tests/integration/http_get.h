// HttpGet fetches one URL path from a HOST:PORT over plain HTTP/1.1, for tests that scrape
// acdd's /metrics or read /api/queues the way Prometheus and a wallboard do; HttpPost sends a JSON
// body (etcd's /v3 gateway), and HttpRequest is both with a chosen patience.
//   std::optional<HttpResponse> r = HttpGet(acdd.http_address(), "/metrics");
//   r = HttpPost(etcd.endpoint(0), "/v3/maintenance/status", "{}", std::chrono::seconds(1));
#ifndef ACD_TESTS_INTEGRATION_HTTP_GET_H_
#define ACD_TESTS_INTEGRATION_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

namespace acd::testing {

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

// Sends one request and reads the reply until the server closes. `patience` bounds each wait for
// the reply's bytes (SO_RCVTIMEO), so a server that accepts but never answers (a stopped process:
// the kernel still completes the handshake) gives nullopt after about that long. A GET goes without
// a body; any other method sends `body` as JSON.
inline std::optional<HttpResponse> HttpRequest(const std::string& address,
                                               const std::string& method, const std::string& path,
                                               const std::string& body,
                                               std::chrono::milliseconds patience) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr) != 1) return std::nullopt;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  patience = std::max(patience, std::chrono::milliseconds(1));  // 0 would mean "wait forever"
  timeval timeout{.tv_sec = static_cast<time_t>(patience.count() / 1000),
                  .tv_usec = static_cast<suseconds_t>(patience.count() % 1000 * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return std::nullopt;
  }
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: " + address + "\r\nConnection: close\r\n";
  if (method != "GET") {
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\n\r\n" + body;
  } else {
    request += "\r\n";
  }
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) raw.append(buffer, static_cast<size_t>(n));
  close(fd);
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
  HttpResponse response;
  response.status = std::stoi(raw.substr(9, 3));
  response.headers = raw.substr(0, end);
  response.body = raw.substr(end + 4);
  return response;
}

inline std::optional<HttpResponse> HttpGet(const std::string& address, const std::string& path) {
  return HttpRequest(address, "GET", path, "", std::chrono::seconds(10));
}

inline std::optional<HttpResponse> HttpPost(
    const std::string& address, const std::string& path, const std::string& json_body,
    std::chrono::milliseconds patience = std::chrono::seconds(10)) {
  return HttpRequest(address, "POST", path, json_body, patience);
}

}  // namespace acd::testing

#endif  // ACD_TESTS_INTEGRATION_HTTP_GET_H_

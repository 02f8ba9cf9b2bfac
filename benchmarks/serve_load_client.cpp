// The HTTP client of serve_load.py (service.md L7) in C++, so that the load generator takes
// little of the two cores it shares with the service: pre-encoded requests (serve_load.py
// writes them: each a 4-byte big-endian length, then the body), sent over keep-alive
// connections with TCP_NODELAY, one thread per client. It schedules as serve_load.py's Python
// client does: the requests of a scrape are dealt round-robin to the clients, and the clients
// move to the next scrape together. Prints one line per request: "seconds status".
//
//     serve_load_client --port P --requests FILE --clients N --per-scrape K
//                       [--content-type application/x-protobuf]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct result {
  double seconds = 0;
  int status = 0;  // 0: the connection failed
};

class connection {
 public:
  explicit connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { ::close(fd_); }

  // One POST; the reply's status, or 0 when the connection broke.
  int post(std::string_view head, std::string_view body) {
    iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                      {const_cast<char*>(body.data()), body.size()}};
    std::size_t left = head.size() + body.size();
    int index = 0;
    while (left > 0) {
      const ssize_t n = ::writev(fd_, parts + index, 2 - index);
      if (n <= 0) return 0;
      left -= static_cast<std::size_t>(n);
      auto done = static_cast<std::size_t>(n);
      while (index < 2 && done >= parts[index].iov_len) done -= parts[index++].iov_len;
      if (index < 2) {
        parts[index].iov_base = static_cast<char*>(parts[index].iov_base) + done;
        parts[index].iov_len -= done;
      }
    }
    return read_reply();
  }

 private:
  int read_reply() {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return 0;
    const std::string_view head(buffer_.data(), end);
    if (head.size() < 12 || !head.starts_with("HTTP/1.1 ")) return 0;
    const int status = std::atoi(std::string(head.substr(9, 3)).c_str());
    std::size_t length = 0;
    for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;) {
      const std::size_t next = head.find("\r\n", at + 2);
      std::string line(head.substr(at + 2, next == std::string_view::npos ? next : next - at - 2));
      for (auto& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (line.starts_with("content-length:"))
        length = static_cast<std::size_t>(std::strtoull(line.c_str() + 15, nullptr, 10));
      at = next;
    }
    const std::size_t total = end + 4 + length;
    while (buffer_.size() < total)
      if (!fill()) return 0;
    buffer_.erase(0, total);
    return status;
  }
  bool fill() {
    char chunk[65536];
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
};

std::vector<std::string> read_requests(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at + 4 <= bytes.size()) {
    const auto byte = [&](std::size_t i) {
      return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i]));
    };
    const std::size_t n = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
    if (at + 4 + n > bytes.size()) throw std::runtime_error("a request file cut short");
    out.emplace_back(bytes, at + 4, n);
    at += 4 + n;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, clients = 1;
  std::size_t per_scrape = 1;
  std::string path, content_type = "application/x-protobuf";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--port") port = std::atoi(argv[i + 1]);
    if (flag == "--requests") path = argv[i + 1];
    if (flag == "--clients") clients = std::max(1, std::atoi(argv[i + 1]));
    if (flag == "--per-scrape")
      per_scrape = std::max<std::size_t>(1, std::strtoull(argv[i + 1], nullptr, 10));
    if (flag == "--content-type") content_type = argv[i + 1];
  }
  if (port <= 0 || path.empty()) {
    std::fprintf(stderr,
                 "usage: serve_load_client --port P --requests FILE --clients N --per-scrape K "
                 "[--content-type T]\n");
    return 2;
  }
  try {
    const auto requests = read_requests(path);
    std::vector<std::string> heads;
    for (const auto& body : requests)
      heads.push_back(
          "POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    std::vector<result> results(requests.size());
    std::barrier scrape_done(clients);
    std::vector<std::thread> threads;
    for (int me = 0; me < clients; ++me) {
      threads.emplace_back([&, me] {
        std::unique_ptr<connection> c;  // none: its requests fail (status 0), it still waits
        try {
          c = std::make_unique<connection>(port);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "serve_load_client: %s\n", e.what());
        }
        for (std::size_t i = 0; i < requests.size(); ++i) {
          if (i % per_scrape == 0 && i != 0) scrape_done.arrive_and_wait();
          if (static_cast<int>((i % per_scrape) % static_cast<std::size_t>(clients)) != me)
            continue;
          const auto started = std::chrono::steady_clock::now();
          results[i].status = c ? c->post(heads[i], requests[i]) : 0;
          results[i].seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& r : results) std::printf("%.9f %d\n", r.seconds, r.status);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_load_client: %s\n", e.what());
    return 1;
  }
  return 0;
}

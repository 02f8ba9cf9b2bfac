// Certificates for the TLS tests (service.md L11), made by the `openssl` command as an operator
// would make them: a CA, a server certificate for 127.0.0.1 and a client certificate ("mTLS").
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

#include <catch2/catch.hpp>

namespace k8snetio::test {

struct certificates {
  std::filesystem::path dir;
  certificates() {
    dir = std::filesystem::temp_directory_path() /
          ("k8snetio-tls-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(dir);
    {
      std::ofstream script(dir / "make.sh");
      script << "set -e\ncd \"$(dirname \"$0\")\"\n"
                "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
                "-subj /CN=test-ca\n"
                "issue() {\n"
                "  openssl req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr -subj /CN=$2\n"
                "  printf 'subjectAltName=IP:127.0.0.1\\n' > $1.ext\n"
                "  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                "-out $1.pem -days 2 -extfile $1.ext\n"
                "}\n"
                "issue server 127.0.0.1\nissue client collector\n";
    }
    const std::string command = "bash '" + (dir / "make.sh").string() + "' >/dev/null 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
  }
  ~certificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
  certificates(const certificates&) = delete;
  certificates& operator=(const certificates&) = delete;

  std::string path(const char* name) const { return (dir / name).string(); }
  std::string read(const char* name) const {
    std::ifstream in(dir / name);
    return {std::istreambuf_iterator<char>(in), {}};
  }
};

}  // namespace k8snetio::test

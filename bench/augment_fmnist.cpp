// Augmented Fashion-MNIST for scale runs, made the way MNIST-8M was made from MNIST: every output
// row is a training image moved by a small random translation (and, with --elastic, a smooth
// random displacement field), written as .npy (uint8 images n x 784, int64 labels n).
//
//   kmpi_augment_fmnist --n 1000000 --out-x x.npy --out-y y.npy [--shift 2] [--elastic 1.5]
//                       [--seed 1] [--images PATH.gz] [--labels PATH.gz]
//
// The first 60000 rows are the original images in order; row i >= 60000 takes source image
// counter_random(seed, i) mod 60000 and its own translation/field, so any row can be regenerated
// alone and the output does not depend on the chunking. Generation streams: memory is the 47 MB of
// source images plus one chunk of output rows, whatever n is. Files are written under a temporary
// name and renamed when complete.
#include <zlib.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kmpi/rng.hpp"

namespace {

constexpr int kSide = 28, kPixels = kSide * kSide;

std::vector<unsigned char> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open");
  std::vector<unsigned char> out;
  std::array<unsigned char, 1 << 16> buf;
  int got;
  while ((got = gzread(f, buf.data(), buf.size())) > 0)
    out.insert(out.end(), buf.data(), buf.data() + got);
  gzclose(f);
  if (got < 0) throw std::runtime_error(path + ": gzip read error");
  return out;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
         p[3];
}

// A .npy version 1.0 header for a C-order array, padded so the data start at a multiple of 64.
std::string npy_header(const std::string& descr, const std::string& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::string h = "\x93NUMPY";
  h.push_back(1);
  h.push_back(0);
  h.push_back(static_cast<char>(dict.size() & 0xff));
  h.push_back(static_cast<char>(dict.size() >> 8));
  return h + dict;
}

double uniform(std::uint64_t seed, std::uint64_t row, std::uint64_t k) {
  return static_cast<double>(kmpi::counter_random(seed, kmpi::RngStream::kGenerator, row, k) >>
                             11) *
         0x1.0p-53;
}

double pixel(const unsigned char* img, int y, int x) {
  return (y < 0 || y >= kSide || x < 0 || x >= kSide) ? 0.0 : img[y * kSide + x];
}

// Bilinear sample at (y, x), zero outside the image.
double sample(const unsigned char* img, double y, double x) {
  const int y0 = static_cast<int>(std::floor(y)), x0 = static_cast<int>(std::floor(x));
  const double fy = y - y0, fx = x - x0;
  return (1 - fy) * ((1 - fx) * pixel(img, y0, x0) + fx * pixel(img, y0, x0 + 1)) +
         fy * ((1 - fx) * pixel(img, y0 + 1, x0) + fx * pixel(img, y0 + 1, x0 + 1));
}

// Row `row` of the augmented set from source image `img`: integer translation in
// [-shift, shift]^2, plus (elastic > 0) a displacement field of amplitude `elastic` pixels that is
// bilinear between random values on a 5 x 5 grid of control points (smooth at the scale of a
// stroke, like the smoothed random fields of Simard et al.).
void augment(const unsigned char* img, std::uint64_t seed, std::uint64_t row, int shift,
             double elastic, unsigned char* out) {
  const int dy = static_cast<int>(std::floor(uniform(seed, row, 0) * (2 * shift + 1))) - shift;
  const int dx = static_cast<int>(std::floor(uniform(seed, row, 1) * (2 * shift + 1))) - shift;
  double grid[2][5][5];
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j)
        grid[c][i][j] =
            elastic > 0 ? elastic * (2 * uniform(seed, row, 2 + c * 25 + i * 5 + j) - 1) : 0;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      double ey = 0, ex = 0;
      if (elastic > 0) {
        const double gy = y * 4.0 / (kSide - 1), gx = x * 4.0 / (kSide - 1);
        const int iy = std::min(3, static_cast<int>(gy)), ix = std::min(3, static_cast<int>(gx));
        const double fy = gy - iy, fx = gx - ix;
        auto lerp = [&](int c) {
          return (1 - fy) * ((1 - fx) * grid[c][iy][ix] + fx * grid[c][iy][ix + 1]) +
                 fy * ((1 - fx) * grid[c][iy + 1][ix] + fx * grid[c][iy + 1][ix + 1]);
        };
        ey = lerp(0);
        ex = lerp(1);
      }
      const double v = sample(img, y - dy + ey, x - dx + ex);
      out[y * kSide + x] =
          static_cast<unsigned char>(std::lround(std::min(255.0, std::max(0.0, v))));
    }
}

void write_all(std::FILE* f, const void* data, std::size_t bytes, const std::string& path) {
  if (bytes && std::fwrite(data, 1, bytes, f) != bytes)
    throw std::runtime_error(path + ": write failed");
}

}  // namespace

int main(int argc, char** argv) {
  std::string images = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
  std::string labels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
  std::string out_x, out_y;
  std::uint64_t n = 0, seed = 1;
  int shift = 2;
  double elastic = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--images")
      images = v;
    else if (k == "--labels")
      labels = v;
    else if (k == "--out-x")
      out_x = v;
    else if (k == "--out-y")
      out_y = v;
    else if (k == "--n")
      n = std::stoull(v);
    else if (k == "--seed")
      seed = std::stoull(v);
    else if (k == "--shift")
      shift = std::stoi(v);
    else if (k == "--elastic")
      elastic = std::stod(v);
    else {
      std::fprintf(stderr, "unknown argument %s\n", k.c_str());
      return 2;
    }
  }
  if (n == 0 || out_x.empty() || out_y.empty() || shift < 0) {
    std::fprintf(stderr,
                 "usage: %s --n N --out-x X.npy --out-y Y.npy [--shift 2] [--elastic 0] "
                 "[--seed 1] [--images PATH] [--labels PATH]\n",
                 argv[0]);
    return 2;
  }
  try {
    const auto img = read_gz(images), lab = read_gz(labels);
    if (img.size() < 16 || be32(img.data()) != 0x803 || be32(img.data() + 8) != kSide ||
        be32(img.data() + 12) != kSide)
      throw std::runtime_error(images + ": not an IDX file of 28 x 28 images");
    if (lab.size() < 8 || be32(lab.data()) != 0x801)
      throw std::runtime_error(labels + ": not an IDX label file");
    const std::uint64_t sources = be32(img.data() + 4);
    if (img.size() != 16 + sources * kPixels || be32(lab.data() + 4) != sources ||
        lab.size() != 8 + sources)
      throw std::runtime_error(images + ": images and labels do not match");
    const std::string tx = out_x + ".tmp", ty = out_y + ".tmp";
    std::FILE* fx = std::fopen(tx.c_str(), "wb");
    std::FILE* fy = std::fopen(ty.c_str(), "wb");
    if (!fx || !fy) throw std::runtime_error("cannot create " + (fx ? ty : tx));
    const std::string hx =
        npy_header("|u1", "(" + std::to_string(n) + ", " + std::to_string(kPixels) + ")");
    const std::string hy = npy_header("<i8", "(" + std::to_string(n) + ",)");
    write_all(fx, hx.data(), hx.size(), out_x);
    write_all(fy, hy.data(), hy.size(), out_y);
    const std::uint64_t chunk = 4096;
    std::vector<unsigned char> rows(chunk * kPixels);
    std::vector<std::int64_t> ys(chunk);
    for (std::uint64_t r0 = 0; r0 < n; r0 += chunk) {
      const std::uint64_t m = std::min(chunk, n - r0);
      for (std::uint64_t k = 0; k < m; ++k) {
        const std::uint64_t row = r0 + k;
        const std::uint64_t src =
            row < sources
                ? row
                : kmpi::bounded(kmpi::counter_random(seed, kmpi::RngStream::kGenerator, row, 99),
                                sources);
        const unsigned char* s = img.data() + 16 + src * kPixels;
        if (row < sources)
          std::memcpy(&rows[k * kPixels], s, kPixels);
        else
          augment(s, seed, row, shift, elastic, &rows[k * kPixels]);
        ys[k] = lab[8 + src];
      }
      write_all(fx, rows.data(), m * kPixels, out_x);
      write_all(fy, ys.data(), m * sizeof(std::int64_t), out_y);
    }
    const bool ok = std::fclose(fx) == 0 && std::fclose(fy) == 0;
    if (!ok || std::rename(tx.c_str(), out_x.c_str()) != 0 ||
        std::rename(ty.c_str(), out_y.c_str()) != 0)
      throw std::runtime_error("cannot complete " + out_x + " / " + out_y);
    std::printf("wrote %llu rows: %s (uint8 %llu x %d), %s (int64)\n",
                static_cast<unsigned long long>(n), out_x.c_str(),
                static_cast<unsigned long long>(n), kPixels, out_y.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kmpi_augment_fmnist: %s\n", e.what());
    return 1;
  }
  return 0;
}

// A fixed-size set of page frame numbers, one bit each, in the 64-bit word
// layout of the hypervisors' dirty logs (KVM's and Xen's alike), so a
// backend can fill it in place.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace uckpt::core {

class Bitmap {
 public:
  explicit Bitmap(uint64_t bits = 0) : bits_(bits), words_((bits + 63) / 64, 0) {}

  uint64_t size() const { return bits_; }
  uint64_t* words() { return words_.data(); }
  const uint64_t* words() const { return words_.data(); }
  size_t word_count() const { return words_.size(); }

  bool test(uint64_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  void set(uint64_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  void reset(uint64_t i) { words_[i / 64] &= ~(uint64_t{1} << (i % 64)); }
  void clear() { std::fill(words_.begin(), words_.end(), 0); }
  void set_all() {
    std::fill(words_.begin(), words_.end(), ~uint64_t{0});
    if (bits_ % 64) words_.back() = (uint64_t{1} << (bits_ % 64)) - 1;
  }

  Bitmap& operator|=(const Bitmap& other) {
    for (size_t i = 0; i < words_.size(); i++) words_[i] |= other.words_[i];
    return *this;
  }

  Bitmap& operator&=(const Bitmap& other) {
    for (size_t i = 0; i < words_.size(); i++) words_[i] &= other.words_[i];
    return *this;
  }

  Bitmap& and_not(const Bitmap& other) {
    for (size_t i = 0; i < words_.size(); i++) words_[i] &= ~other.words_[i];
    return *this;
  }

  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t w : words_) n += static_cast<uint64_t>(__builtin_popcountll(w));
    return n;
  }

  // Calls fn(pfn) for every set bit, in increasing order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (size_t i = 0; i < words_.size(); i++) {
      for (uint64_t w = words_[i]; w; w &= w - 1) fn(i * 64 + static_cast<uint64_t>(__builtin_ctzll(w)));
    }
  }

 private:
  uint64_t bits_;
  std::vector<uint64_t> words_;
};

}  // namespace uckpt::core

// A first-in, first-out queue over a vector and a read position. Unlike std::deque it allocates
// nothing until the first push and keeps its storage when it drains; the consumed front is dropped
// when the queue empties, or once it is long and at least half of the storage, so a queue that
// never quite drains stays bounded.
#ifndef HPD_COMMON_FIFO_H_
#define HPD_COMMON_FIFO_H_

#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>
#include <vector>

namespace hpd {

template <typename T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  void push_back(T item) { items_.push_back(std::move(item)); }
  // The oldest item, removed; nullopt when empty.
  std::optional<T> pop_front() {
    if (empty()) return std::nullopt;
    T item = std::move(items_[head_++]);
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 1024 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return item;
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  bool contains(const T& item) const {
    return std::find(items_.begin() + static_cast<std::ptrdiff_t>(head_), items_.end(), item) !=
           items_.end();
  }
  // Removes every queued item equal to `item`, keeping the others' order.
  void remove(const T& item) {
    items_.erase(
        std::remove(items_.begin() + static_cast<std::ptrdiff_t>(head_), items_.end(), item),
        items_.end());
    if (empty()) clear();
  }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;  // items_[0, head_) are consumed
};

}  // namespace hpd

#endif  // HPD_COMMON_FIFO_H_

// Autocast for the training loop: libtorch's automatic mixed precision, switched on around a
// forward pass. tch exposes only the deprecated CUDA-only switch, so exp-runtime builds this
// shim against the same libtorch (runtime/build.rs). The state is thread-local in libtorch,
// and a plugin's operations run on the node's thread, so they are cast too.
#include <ATen/autocast_mode.h>

namespace {
c10::DeviceType device_type(int cuda) { return cuda ? c10::DeviceType::CUDA : c10::DeviceType::CPU; }
}  // namespace

extern "C" {

// Enters autocast on the CPU (cuda = 0) or CUDA (cuda = 1) with `half` choosing float16 over
// bfloat16. Returns 0, or 1 when libtorch refused.
int exp_autocast_enter(int cuda, int half) {
  try {
    auto device = device_type(cuda);
    at::autocast::set_autocast_dtype(device, half ? at::kHalf : at::kBFloat16);
    at::autocast::set_autocast_enabled(device, true);
    at::autocast::increment_nesting();
    return 0;
  } catch (...) {
    return 1;
  }
}

// Leaves it; the cache of casted weights is cleared when the outermost region ends, as
// torch.autocast does.
int exp_autocast_exit(int cuda) {
  try {
    at::autocast::set_autocast_enabled(device_type(cuda), false);
    if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
    return 0;
  } catch (...) {
    return 1;
  }
}

// Whether autocast is on for the device (for tests).
int exp_autocast_enabled(int cuda) {
  try {
    return at::autocast::is_autocast_enabled(device_type(cuda)) ? 1 : 0;
  } catch (...) {
    return -1;
  }
}
}

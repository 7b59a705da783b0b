// A third party's plugin written in C++: the exp ABI from exp_plugin.h, tensors through
// libtorch's C++ API. It provides
//   - `brier`, an evaluator: the mean Brier score of the model's softmax probabilities,
//     Σ_c (p_c − [c = y])² averaged over examples (lower is better), with a `temperature`;
//   - `slerp`, a merger: spherical linear interpolation of two models, tensor by tensor, as
//     mergekit's `slerp` computes it (a plain linear interpolation when the two tensors are
//     nearly parallel), with the interpolation weight `t`.
// The end-to-end tests compile it with the system C++ compiler against the headers the torch
// wheel ships, load it through EXP_PLUGIN_PATH and use both components in a run.

#include <ATen/ATen.h>
#include <torch/headeronly/version.h>

#include <cmath>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

#include "exp_plugin.h"

namespace {

// The last failure on this thread, as the ABI asks (`last_error`, `last_error_field`).
thread_local std::string last_message;
thread_local std::string last_field;
thread_local bool has_last_field = false;

// A refusal, reported as EXP_STATUS_ERROR naming the parameter at fault (if `field` is not
// empty); any other exception is reported as EXP_STATUS_PANIC.
struct Refusal {
  std::string field;
  std::string message;
};

const char *last_error() { return last_message.c_str(); }
const char *last_error_field() { return has_last_field ? last_field.c_str() : nullptr; }

// Runs `body`; no exception leaves a function of the ABI.
template <typename Body> int guarded(Body &&body) {
  has_last_field = false;
  try {
    body();
    return EXP_STATUS_OK;
  } catch (const Refusal &refusal) {
    last_message = refusal.message;
    last_field = refusal.field;
    has_last_field = !refusal.field.empty();
    return EXP_STATUS_ERROR;
  } catch (const c10::Error &error) {
    // libtorch's own message, without its C++ backtrace.
    last_message = error.what_without_backtrace();
    return EXP_STATUS_ERROR;
  } catch (const std::exception &error) {
    last_message = error.what();
    return EXP_STATUS_PANIC;
  } catch (...) {
    last_message = "an exception that is not a std::exception";
    return EXP_STATUS_PANIC;
  }
}

const at::Tensor &tensor_in(ExpTensorHandle handle) {
  return *reinterpret_cast<const at::Tensor *>(handle);
}

// A new handle the host owns (and frees with `delete`, through libtorch).
ExpTensorHandle tensor_out(at::Tensor tensor) {
  return reinterpret_cast<ExpTensorHandle>(new at::Tensor(std::move(tensor)));
}

// A number parameter; the host has filled in defaults and checked types and bounds.
double number(const ExpValue *params, const char *name) {
  double value = exp_value_number(exp_value_get(params, name));
  if (std::isnan(value)) {
    throw Refusal{name, std::string("parameter `") + name + "` must be a number"};
  }
  return value;
}

// JSON text of a float that reads back to the same double.
std::string json_number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

int no_scheduled_params(void *, const char *name, double) {
  last_message = std::string("parameter `") + name + "` cannot change during a phase";
  last_field = name;
  has_last_field = true;
  return EXP_STATUS_ERROR;
}

// ---- brier ---------------------------------------------------------------------------------

struct Brier {
  double temperature;
  double sum = 0.0;
  int64_t count = 0;
  std::string json;
};

Brier &brier(void *state) { return *static_cast<Brier *>(state); }

int brier_reset(void *state) {
  return guarded([&] {
    brier(state).sum = 0.0;
    brier(state).count = 0;
  });
}

int brier_update(void *state, ExpTensorHandle output, ExpTensorHandle target) {
  return guarded([&] {
    Brier &self = brier(state);
    at::Tensor probabilities =
        (tensor_in(output).to(at::kDouble) / self.temperature).softmax(-1);
    at::Tensor truth =
        at::one_hot(tensor_in(target), probabilities.size(-1)).to(at::kDouble);
    self.sum += (probabilities - truth).pow(2).sum().item<double>();
    self.count += probabilities.size(0);
  });
}

int brier_compute(void *state, const char **out_json) {
  return guarded([&] {
    Brier &self = brier(state);
    double mean = self.count == 0 ? 0.0 : self.sum / static_cast<double>(self.count);
    self.json = "{\"brier\": " + json_number(mean) + "}";
    *out_json = self.json.c_str();
  });
}

void brier_release(void *state) { delete static_cast<Brier *>(state); }

const ExpEvaluatorVTable brier_vtable = {brier_reset, brier_update, brier_compute};

int brier_create(const ExpValue *params, const ExpContext *, ExpObject *out) {
  return guarded([&] {
    auto *self = new Brier{number(params, "temperature")};
    *out = ExpObject{self, &brier_vtable, brier_release, no_scheduled_params};
  });
}

// ---- slerp ---------------------------------------------------------------------------------

struct Slerp {
  double t;
  std::string json;
};

// Above this cosine the two tensors are treated as parallel and interpolated linearly
// (mergekit's DOT_THRESHOLD).
constexpr double kParallel = 0.9995;

at::Tensor slerp(double t, const at::Tensor &first, const at::Tensor &second) {
  at::Tensor a = first.to(at::kDouble).flatten();
  at::Tensor b = second.to(at::kDouble).flatten();
  at::Tensor unit_a = a / a.norm().clamp_min(1e-12);
  at::Tensor unit_b = b / b.norm().clamp_min(1e-12);
  double cosine = (unit_a * unit_b).sum().item<double>();
  at::Tensor merged;
  if (std::fabs(cosine) > kParallel) {
    merged = (1.0 - t) * a + t * b;
  } else {
    double angle = std::acos(cosine);
    double sine = std::sin(angle);
    merged = (std::sin((1.0 - t) * angle) / sine) * a + (std::sin(t * angle) / sine) * b;
  }
  return merged.reshape(first.sizes()).to(first.scalar_type());
}

int slerp_merge(void *state, const char *name, const ExpTensorHandle *inputs, size_t n_inputs,
                ExpTensorHandle *out) {
  return guarded([&] {
    if (n_inputs != 2) {
      throw Refusal{"", "slerp merges exactly 2 models, got " + std::to_string(n_inputs)};
    }
    const at::Tensor &first = tensor_in(inputs[0]);
    const at::Tensor &second = tensor_in(inputs[1]);
    if (!first.sizes().equals(second.sizes())) {
      throw Refusal{"", std::string("tensor `") + name + "` has different shapes in the two models"};
    }
    *out = tensor_out(slerp(static_cast<Slerp *>(state)->t, first, second));
  });
}

int slerp_merge_model(void *state, const char *const *names, size_t n_tensors,
                      const ExpTensorHandle *inputs, size_t n_inputs, ExpTensorHandle *out) {
  for (size_t index = 0; index < n_tensors; index++) {
    int status = slerp_merge(state, names[index], inputs + index * n_inputs, n_inputs, out + index);
    if (status != EXP_STATUS_OK) {
      // Free what this call already handed out: the host reads no slot of a failed call.
      for (size_t done = 0; done < index; done++) {
        delete reinterpret_cast<at::Tensor *>(out[done]);
        out[done] = nullptr;
      }
      return status;
    }
  }
  return EXP_STATUS_OK;
}

int slerp_as_hook(void *state, const char **out_json) {
  static_cast<Slerp *>(state)->json = "null";
  *out_json = static_cast<Slerp *>(state)->json.c_str();
  return EXP_STATUS_OK;
}

void slerp_release(void *state) { delete static_cast<Slerp *>(state); }

const ExpMergerVTable slerp_vtable = {slerp_merge, slerp_merge_model, slerp_as_hook};

int slerp_create(const ExpValue *params, const ExpContext *, ExpObject *out) {
  return guarded([&] {
    auto *self = new Slerp{number(params, "t")};
    *out = ExpObject{self, &slerp_vtable, slerp_release, no_scheduled_params};
  });
}

// `t` at exactly 0 or 1 returns one of the inputs unchanged: almost certainly a mistake in a
// study, so `exp check` says so (a rule a schema cannot state on its own: the bounds are
// inclusive because mergekit accepts them).
int slerp_check(const ExpValue *params) {
  return guarded([&] {
    double t = number(params, "t");
    if (t == 0.0 || t == 1.0) {
      throw Refusal{"t", "t = " + json_number(t) +
                             " returns one input unchanged; use that model instead of a merge"};
    }
  });
}

// ---- the descriptor ------------------------------------------------------------------------

const char kBrierSchema[] =
    R"json({"kind": "evaluator", "name": "brier", "version": "1",
        "doc": "mean Brier score of the softmax probabilities (lower is better)",
        "params": [{"name": "temperature", "type": "float",
                    "doc": "logits are divided by it before the softmax",
                    "default": {"type": "float", "value": 1.0},
                    "min": 0.0, "min_exclusive": true, "max": null}]})json";

const char kSlerpSchema[] =
    R"json({"kind": "merger", "name": "slerp", "version": "1",
        "doc": "spherical interpolation of two models, tensor by tensor (mergekit's slerp)",
        "params": [{"name": "t", "type": "float",
                    "doc": "weight of the second model: 0 is the first, 1 the second",
                    "default": {"type": "float", "value": 0.5},
                    "min": 0.0, "max": 1.0}]})json";

const ExpComponent components[] = {
    {EXP_KIND_EVALUATOR, "brier", kBrierSchema, brier_create, nullptr},
    {EXP_KIND_MERGER, "slerp", kSlerpSchema, slerp_create, slerp_check},
};

const ExpPlugin descriptor = {
    EXP_MAGIC,
    EXP_ABI_MAJOR,
    EXP_ABI_MINOR,
    sizeof(ExpPlugin),
    "cpp_example",
    "0.1.0",
    TORCH_VERSION,
    components,
    sizeof components / sizeof components[0],
    last_error,
    last_error_field,
};

}  // namespace

extern "C" const ExpPlugin *exp_plugin_entry(void) { return &descriptor; }

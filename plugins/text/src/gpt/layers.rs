//! The two parameterised primitives every block is made of: `Linear` (weight `[out, in]`, like
//! PyTorch's `nn.Linear`) and `LayerNorm`. Both call libtorch's fused kernels (`linear`, which
//! folds a 3-D input into one `addmm`, and `layer_norm`), with an optional bias.

use exp_plugin_api::tch::{Kind, TchError, Tensor};

#[derive(Debug)]
pub(crate) struct Linear {
    /// `[out, in]`.
    pub(crate) weight: Tensor,
    /// `[out]`, absent when the config has `bias = false`.
    pub(crate) bias: Option<Tensor>,
}

impl Linear {
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_linear(&self.weight, self.bias.as_ref())
    }

    pub(crate) fn to_kind(&self, kind: Kind) -> Result<Linear, TchError> {
        Ok(Linear {
            weight: leaf(&self.weight, kind)?,
            bias: self
                .bias
                .as_ref()
                .map(|bias| leaf(bias, kind))
                .transpose()?,
        })
    }
}

#[derive(Debug)]
pub(crate) struct LayerNorm {
    /// `[width]`, initialised to 1.
    pub(crate) weight: Tensor,
    /// `[width]`, initialised to 0; absent when the config has `bias = false`.
    pub(crate) bias: Option<Tensor>,
    pub(crate) eps: f64,
}

impl LayerNorm {
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        let width = self.weight.size()[0];
        x.f_layer_norm(
            [width],
            Some(&self.weight),
            self.bias.as_ref(),
            self.eps,
            true,
        )
    }

    pub(crate) fn to_kind(&self, kind: Kind) -> Result<LayerNorm, TchError> {
        Ok(LayerNorm {
            weight: leaf(&self.weight, kind)?,
            bias: self
                .bias
                .as_ref()
                .map(|bias| leaf(bias, kind))
                .transpose()?,
            eps: self.eps,
        })
    }
}

/// A new trainable leaf holding `tensor`'s values in `kind`.
pub(crate) fn leaf(tensor: &Tensor, kind: Kind) -> Result<Tensor, TchError> {
    Ok(tensor
        .f_detach()?
        .f_to_kind(kind)?
        .f_contiguous()?
        .set_requires_grad(true))
}

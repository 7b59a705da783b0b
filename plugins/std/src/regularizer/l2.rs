//! `l2`: (λ/2)·‖θ − θ_anchor‖² over the trainable tensors, where the anchor is the model as it
//! was when `anchor` was called (e.g. at the start of a task).

use exp_plugin_api::exp_ir::{ComponentKind, ComponentSchema, ParamType, Value};
use exp_plugin_api::sdk::{
    param, schema, Component, Context, ParamBuilder, Params, PluginError, Regularizer, Result,
    SchemaBuilder,
};
use exp_plugin_api::tch::{Kind, Tensor};

pub struct L2 {
    lambda: f64,
    anchor: Vec<(String, Tensor)>,
}

impl Component for L2 {
    fn schema() -> ComponentSchema {
        schema(
            ComponentKind::Regularizer,
            "l2",
            "1",
            "(lambda/2)·‖θ − θ_anchor‖²",
        )
        .with(
            param("lambda", ParamType::Float)
                .default(Value::Float(1.0))
                .min(0.0)
                .doc("strength"),
        )
    }
    fn create(params: &Params, _context: &Context) -> Result<Self> {
        Ok(L2 {
            lambda: params.f64("lambda")?,
            anchor: Vec::new(),
        })
    }
}

impl Regularizer for L2 {
    fn anchor(&mut self, params: &[(String, Tensor)]) -> Result<()> {
        self.anchor = params
            .iter()
            .map(|(name, tensor)| Ok((name.clone(), tensor.f_detach_copy()?)))
            .collect::<Result<_>>()?;
        Ok(())
    }

    fn penalty(&self, params: &[(String, Tensor)]) -> Result<Tensor> {
        let device = params
            .first()
            .map(|(_, tensor)| tensor.device())
            .unwrap_or(exp_plugin_api::tch::Device::Cpu);
        let mut total = Tensor::zeros([], (Kind::Float, device));
        for (name, tensor) in params {
            let (_, anchor) = self
                .anchor
                .iter()
                .find(|(anchor_name, _)| anchor_name == name)
                .ok_or_else(|| {
                    PluginError::new(format!("no anchor for tensor `{name}`: call anchor first"))
                })?;
            total = total.f_add(&(tensor - anchor).f_square()?.f_sum(Kind::Float)?)?;
        }
        Ok(total * (self.lambda / 2.0))
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Regularizer;
    use exp_plugin_api::tch::Tensor;

    use super::L2;

    #[test]
    fn penalty_is_half_lambda_squared_distance() {
        let mut l2 = L2 {
            lambda: 2.0,
            anchor: Vec::new(),
        };
        l2.anchor(&[("w".into(), Tensor::from_slice(&[1.0f32, 1.0]))])
            .unwrap();
        let penalty = l2
            .penalty(&[("w".into(), Tensor::from_slice(&[2.0f32, 3.0]))])
            .unwrap();
        assert!((f64::try_from(&penalty).unwrap() - 5.0).abs() < 1e-6);
    }
}

//! The parameter store behind every model: named `Var`s, created on first request from a
//! seeded random generator, or loaded from a checkpoint.
//!
//! Candle's CPU device cannot be seeded, so initial weights never come from Candle's own
//! random functions: each parameter is drawn on the host from a ChaCha stream keyed by the
//! run's seed and the parameter's name, then moved to the device. The same seed therefore
//! gives the same weights on any device, in any construction order, for every replica.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::{Backend, VarBuilderArgs};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A model's variable builder.
pub type Vb<'a> = VarBuilderArgs<'a, ParamStore>;

/// How a parameter is initialised when it is created.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Init {
    /// All zeros.
    #[default]
    Zeros,
    /// Every value the same.
    Const(f32),
    /// Uniform on (-bound, bound).
    Uniform(f32),
    /// Orthogonal square blocks stacked along the first dimension: a `[k * n, n]` matrix
    /// made of `k` independent random orthogonal `n x n` blocks (Keras' orthogonal
    /// `inner_init` of each LSTM gate).
    OrthogonalBlocks,
    /// Zeros except the second of four equal blocks, which is one: an LSTM bias in gate
    /// order (input, forget, cell, output) with Keras' `forget_bias_init = "one"`.
    LstmBias,
    /// Not a parameter but a buffer (batch norm's running mean and variance), every value
    /// the same: saved in checkpoints, never seen by the optimizer, the gradients or
    /// max-norm.
    Buffer(f32),
}

impl Init {
    /// Glorot (Xavier) uniform: bound sqrt(6 / (fan_in + fan_out)).
    pub fn glorot(fan_in: usize, fan_out: usize) -> Init {
        Init::Uniform((6.0 / (fan_in + fan_out) as f64).sqrt() as f32)
    }

    /// Lua Torch's default for convolutions and linear layers: bound 1 / sqrt(fan_in).
    pub fn torch(fan_in: usize) -> Init {
        Init::Uniform((1.0 / (fan_in as f64).sqrt()) as f32)
    }
}

/// SplitMix64 finaliser, used to mix seeds and counters into stream keys.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A ChaCha8 generator keyed by a seed and a path of counters: the same key always gives
/// the same stream, on any platform and whatever else was drawn before.
pub fn rng_for(seed: u64, path: &[u64]) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    let mut h = mix(seed);
    for &p in path {
        h = mix(h ^ mix(p.wrapping_add(0x632b_e59b_d9b4_e019)));
    }
    for (i, part) in key.chunks_mut(8).enumerate() {
        h = mix(h.wrapping_add(i as u64));
        part.copy_from_slice(&h.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// FNV-1a of a name, to key a parameter's random stream.
fn name_key(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Draws the initial values of one parameter.
fn initial_values(init: &Init, shape: &Shape, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = shape.elem_count();
    match init {
        Init::Zeros => vec![0.0; n],
        Init::Const(v) | Init::Buffer(v) => vec![*v; n],
        Init::Uniform(b) => (0..n).map(|_| rng.random_range(-*b..*b)).collect(),
        Init::LstmBias => {
            let h = n / 4;
            (0..n).map(|i| if i / h == 1 { 1.0 } else { 0.0 }).collect()
        }
        Init::OrthogonalBlocks => {
            let dims = shape.dims();
            let cols = dims[dims.len() - 1];
            let blocks = n / (cols * cols);
            let mut out = Vec::with_capacity(n);
            for _ in 0..blocks {
                out.extend(orthogonal(cols, rng));
            }
            out
        }
    }
}

/// A random orthogonal n x n matrix (row-major): Gram-Schmidt, twice for stability, on a
/// matrix of standard normal values.
fn orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let normal = |rng: &mut ChaCha8Rng| {
        // Box-Muller; one value per call keeps the stream simple.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let mut q: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..n).map(|_| normal(rng)).collect())
        .collect();
    for i in 0..n {
        for _pass in 0..2 {
            for j in 0..i {
                let d: f64 = (0..n).map(|k| q[i][k] * q[j][k]).sum();
                let (head, tail) = q.split_at_mut(i);
                for k in 0..n {
                    tail[0][k] -= d * head[j][k];
                }
            }
        }
        let norm = q[i].iter().map(|v| v * v).sum::<f64>().sqrt();
        q[i].iter_mut().for_each(|v| *v /= norm);
    }
    q.into_iter().flatten().map(|v| v as f32).collect()
}

/// Named trainable parameters, in name order, and the buffers beside them.
#[derive(Clone)]
pub struct ParamStore {
    vars: Arc<Mutex<BTreeMap<String, Var>>>,
    buffers: Arc<Mutex<BTreeMap<String, Var>>>,
    seed: u64,
    frozen: bool,
}

impl ParamStore {
    /// An empty store whose parameters will be drawn from `seed`.
    pub fn new(seed: u64) -> ParamStore {
        ParamStore {
            vars: Arc::default(),
            buffers: Arc::default(),
            seed,
            frozen: false,
        }
    }

    /// The same store, whose models get their parameters as constants (detached from the
    /// variables, sharing their storage): backward passes through such a model compute the
    /// gradients of its inputs only, not of every weight (what attributions need). Setting
    /// a variable of the store still changes the model.
    pub fn frozen(mut self) -> ParamStore {
        self.frozen = true;
        self
    }

    /// A store holding the given tensors; a model built on it uses them instead of drawing
    /// (those it declares as buffers become buffers).
    pub fn from_tensors(tensors: BTreeMap<String, Tensor>) -> candle_core::Result<ParamStore> {
        let vars = tensors
            .into_iter()
            .map(|(k, t)| Ok((k, Var::from_tensor(&t)?)))
            .collect::<candle_core::Result<_>>()?;
        Ok(ParamStore {
            vars: Arc::new(Mutex::new(vars)),
            buffers: Arc::default(),
            seed: 0,
            frozen: false,
        })
    }

    /// A variable builder over this store.
    pub fn builder(&self, device: &Device) -> Vb<'static> {
        VarBuilderArgs::new_with_args(self.clone(), DType::F32, device)
    }

    /// The trainable parameters, in name order (what the optimizer updates).
    pub fn vars(&self) -> Vec<(String, Var)> {
        let vars = self.vars.lock().expect("parameter store lock");
        vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The buffers, in name order.
    pub fn buffers(&self) -> Vec<(String, Var)> {
        let b = self.buffers.lock().expect("parameter store lock");
        b.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The current values of the parameters and the buffers, in name order: what a
    /// checkpoint holds.
    pub fn tensors(&self) -> BTreeMap<String, Tensor> {
        self.vars()
            .into_iter()
            .chain(self.buffers())
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect()
    }

    /// Total number of scalar parameters (buffers not counted).
    pub fn count(&self) -> usize {
        self.vars().iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// Overwrites one parameter's or buffer's values (shape must match).
    pub fn set(&self, name: &str, value: &Tensor) -> candle_core::Result<()> {
        let var = self
            .vars
            .lock()
            .expect("parameter store lock")
            .get(name)
            .cloned()
            .or_else(|| {
                let b = self.buffers.lock().expect("parameter store lock");
                b.get(name).cloned()
            })
            .ok_or_else(|| candle_core::Error::Msg(format!("no parameter named {name}")))?;
        var.set(value)
    }
}

impl Backend for ParamStore {
    type Hints = Init;

    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let buffer = matches!(init, Init::Buffer(_));
        let mut params = self.vars.lock().expect("parameter store lock");
        let mut buffers = self.buffers.lock().expect("parameter store lock");
        if buffer {
            // A store made from tensors holds buffers among its parameters until a model
            // declares them.
            if let Some(var) = params.remove(name) {
                buffers.insert(name.to_string(), var);
            }
        }
        let vars = if buffer { &mut buffers } else { &mut params };
        if let Some(var) = vars.get(name) {
            if var.shape() != &shape {
                return Err(candle_core::Error::Msg(format!(
                    "parameter {name} has shape {:?}, the model expects {:?}",
                    var.dims(),
                    shape.dims()
                )));
            }
            let t = var.as_tensor();
            let t = if t.device().same_device(dev) {
                t.clone()
            } else {
                t.to_device(dev)?
            };
            return Ok(if self.frozen { t.detach() } else { t });
        }
        let mut rng = rng_for(self.seed, &[name_key(name)]);
        let values = initial_values(&init, &shape, &mut rng);
        let var = Var::from_tensor(&Tensor::from_vec(values, shape, dev)?.to_dtype(dtype)?)?;
        let t = var.as_tensor().clone();
        vars.insert(name.to_string(), var);
        Ok(if self.frozen { t.detach() } else { t })
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        self.tensors()
            .remove(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("no parameter named {name}")))
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors().contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_blocks_are_orthogonal() {
        let mut rng = rng_for(1, &[2]);
        let q = orthogonal(16, &mut rng);
        for i in 0..16 {
            for j in 0..16 {
                let d: f32 = (0..16).map(|k| q[i * 16 + k] * q[j * 16 + k]).sum();
                assert!(
                    (d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5,
                    "{i} {j} {d}"
                );
            }
        }
    }

    #[test]
    fn same_seed_same_values_whatever_the_order() {
        let dev = Device::Cpu;
        let (a, b) = (ParamStore::new(7), ParamStore::new(7));
        let va = a.builder(&dev);
        let vb = b.builder(&dev);
        let a1 = va
            .get_with_hints((3, 4), "one", Init::Uniform(1.0))
            .unwrap();
        let a2 = va.get_with_hints((5,), "two", Init::Uniform(1.0)).unwrap();
        let b2 = vb.get_with_hints((5,), "two", Init::Uniform(1.0)).unwrap();
        let b1 = vb
            .get_with_hints((3, 4), "one", Init::Uniform(1.0))
            .unwrap();
        let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v(&a1), v(&b1));
        assert_eq!(v(&a2), v(&b2));
        assert_ne!(v(&a1)[..5], v(&a2)[..]);
        let c = ParamStore::new(8)
            .builder(&dev)
            .get_with_hints((3, 4), "one", Init::Uniform(1.0))
            .unwrap();
        assert_ne!(v(&a1), v(&c));
        assert!(v(&a1).iter().all(|x| x.abs() < 1.0));
    }

    #[test]
    fn shape_mismatch_names_the_parameter() {
        let store = ParamStore::new(1);
        let vb = store.builder(&Device::Cpu);
        vb.get_with_hints((2, 2), "conv1.weight", Init::Zeros)
            .unwrap();
        let err = vb
            .get_with_hints((3, 2), "conv1.weight", Init::Zeros)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("conv1.weight") && err.contains("[2, 2]"),
            "{err}"
        );
    }
}

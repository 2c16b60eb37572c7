//! Reading PyTorch weight files (`torch.save` of a state dict, or of a dict holding one under
//! a key such as Selene's `state_dict`), without Python.
//!
//! - The **zip archive** of PyTorch 1.6 and later: Candle's reader
//!   (`candle_core::pickle::read_all_with_key`).
//! - The **legacy format** of earlier versions (Kipoi's DeepSEA and Beluga files were written
//!   in 2018-2019): five pickles in a row (a magic number, the protocol version 1001, the
//!   system information, the object itself with each storage as a persistent id
//!   `('storage', type, key, location, size)`, the list of storage keys), then each
//!   storage's data in that order, as a little-endian int64 element count and the raw
//!   elements. The pickles are read by Candle's pickle machine (`candle_core::pickle::Stack`);
//!   tensors are `torch._utils._rebuild_tensor_v2` (or `_rebuild_tensor`, before PyTorch
//!   0.4) of a storage, an offset, a size and a stride.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};

use crate::TrainError;

/// The legacy format's first pickle: protocol 2, `LONG1` of 10 bytes holding the magic
/// number 0x1950a86a20f9469cfc6c, `STOP`.
const MAGIC: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

fn bad(path: &Path, what: impl std::fmt::Display) -> TrainError {
    TrainError::Data(format!(
        "{}: not a PyTorch weight file that can be read ({what})",
        path.display()
    ))
}

/// The tensors of a PyTorch weight file, by key; `key`: the entry of a dict that holds the
/// state dict (e.g. `state_dict` in Selene's checkpoints), when the file holds one.
pub fn read_pth(path: &Path, key: Option<&str>) -> Result<Vec<(String, Tensor)>, TrainError> {
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|e| TrainError::Io(path.into(), e))?;
    let n = f
        .read(&mut head)
        .map_err(|e| TrainError::Io(path.into(), e))?;
    if n == 4 && head == *b"PK\x03\x04" {
        return candle_core::pickle::read_all_with_key(path, key)
            .map_err(|e| bad(path, format!("zip archive: {e}")));
    }
    if n < 2 || head[0] != 0x80 {
        return Err(bad(
            path,
            "neither a zip archive (PyTorch 1.6 and later) nor a pickle (earlier versions)",
        ));
    }
    read_legacy(path, key)
}

/// One pickle from `r`.
fn pickle(r: &mut impl std::io::BufRead, path: &Path, what: &str) -> Result<Object, TrainError> {
    let mut stack = Stack::empty();
    stack
        .read_loop(r)
        .and_then(|()| stack.finalize())
        .map_err(|e| bad(path, format!("{what}: {e}")))
}

/// A storage's persistent id: (key, dtype, elements).
fn storage_id(obj: Object) -> Option<(String, DType, usize)> {
    let mut t = obj.persistent_load().ok()?.tuple().ok()?;
    if t.len() < 5 {
        return None;
    }
    let size = t.remove(4).int_or_long().ok()? as usize;
    let key = t.remove(2).unicode().ok()?;
    let (_, class) = t.remove(1).class().ok()?;
    let dtype = match class.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "ByteStorage" => DType::U8,
        _ => return None,
    };
    Some((key, dtype, size))
}

/// A tensor's pickled form: (storage key, dtype, storage size, offset, shape, strides).
type TensorRef = (String, DType, usize, usize, Vec<usize>, Vec<usize>);

fn tensor_ref(obj: Object) -> Option<TensorRef> {
    let (callable, args) = obj.reduce().ok()?;
    let (module, class) = callable.class().ok()?;
    let args = if module == "torch._utils" && class == "_rebuild_parameter" {
        let (callable, inner) = args.tuple().ok()?.remove(0).reduce().ok()?;
        let (_, class) = callable.class().ok()?;
        if class != "_rebuild_tensor_v2" && class != "_rebuild_tensor" {
            return None;
        }
        inner
    } else if module == "torch._utils"
        && (class == "_rebuild_tensor_v2" || class == "_rebuild_tensor")
    {
        args
    } else {
        return None;
    };
    let mut a = args.tuple().ok()?;
    if a.len() < 4 {
        return None;
    }
    let stride = Vec::<usize>::try_from(a.remove(3)).ok()?;
    let shape = Vec::<usize>::try_from(a.remove(2)).ok()?;
    let offset = a.remove(1).int_or_long().ok()? as usize;
    let (key, dtype, size) = storage_id(a.remove(0))?;
    Some((key, dtype, size, offset, shape, stride))
}

fn read_legacy(path: &Path, key: Option<&str>) -> Result<Vec<(String, Tensor)>, TrainError> {
    let file = std::fs::File::open(path).map_err(|e| TrainError::Io(path.into(), e))?;
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 15];
    if r.read_exact(&mut magic).is_err() || magic != MAGIC {
        return Err(bad(
            path,
            "a pickle, but not of torch.save (no magic number)",
        ));
    }
    let protocol = pickle(&mut r, path, "the protocol version")?;
    if protocol.int_or_long().ok() != Some(1001) {
        return Err(bad(path, "an unknown torch.save protocol version"));
    }
    pickle(&mut r, path, "the system information")?;
    let mut obj = pickle(&mut r, path, "the saved object")?;
    if let Some(k) = key {
        if let Object::Dict(entries) = obj {
            obj = entries
                .into_iter()
                .find(|(name, _)| *name == Object::Unicode(k.to_string()))
                .map(|(_, v)| v)
                .ok_or_else(|| bad(path, format!("a dict without the entry '{k}'")))?;
        }
    }
    let Object::Dict(entries) = obj else {
        return Err(bad(path, "the saved object is not a dict of tensors"));
    };
    let refs: Vec<(String, TensorRef)> = entries
        .into_iter()
        .filter_map(|(name, value)| Some((name.unicode().ok()?, tensor_ref(value)?)))
        .collect();
    let keys = pickle(&mut r, path, "the storage keys")?;
    let keys: Vec<String> = match keys {
        Object::List(v) | Object::Tuple(v) => {
            v.into_iter().filter_map(|k| k.unicode().ok()).collect()
        }
        _ => return Err(bad(path, "no list of storage keys")),
    };
    let wanted: HashMap<&str, DType> = refs
        .iter()
        .map(|(_, (k, d, ..))| (k.as_str(), *d))
        .collect();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for k in &keys {
        let mut count = [0u8; 8];
        r.read_exact(&mut count)
            .map_err(|_| bad(path, format!("truncated before storage {k}")))?;
        let n = i64::from_le_bytes(count) as usize;
        let size = wanted.get(k.as_str()).map_or(4, |d| d.size_in_bytes());
        let mut data = vec![0u8; n * size];
        r.read_exact(&mut data).map_err(|_| {
            bad(
                path,
                format!("truncated: storage {k} should hold {n} elements of {size} bytes"),
            )
        })?;
        storages.insert(k.clone(), data);
    }
    let mut out = Vec::new();
    for (name, (k, dtype, _, offset, shape, stride)) in refs {
        let data = storages
            .get(&k)
            .ok_or_else(|| bad(path, format!("tensor {name}: no storage {k}")))?;
        let elem = dtype.size_in_bytes();
        let numel: usize = shape.iter().product();
        // Gather the elements by the strides (contiguous in practice).
        let mut bytes = Vec::with_capacity(numel * elem);
        let mut index = vec![0usize; shape.len()];
        for _ in 0..numel {
            let at = offset + index.iter().zip(&stride).map(|(i, s)| i * s).sum::<usize>();
            let chunk = data
                .get(at * elem..(at + 1) * elem)
                .ok_or_else(|| bad(path, format!("tensor {name} reaches past its storage {k}")))?;
            bytes.extend_from_slice(chunk);
            for d in (0..shape.len()).rev() {
                index[d] += 1;
                if index[d] < shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        let t = Tensor::from_raw_buffer(&bytes, dtype, &shape, &Device::Cpu)?;
        out.push((name, t));
    }
    Ok(out)
}

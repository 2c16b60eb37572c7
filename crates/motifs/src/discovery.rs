//! Motif discovery from attributions: seqlets (windows of high contribution) aligned and
//! clustered into motifs by the similarity of their contribution profiles, on both strands.
//!
//! Each seqlet is a window of `W` positions with its one-hot bases, contributions and
//! hypothetical contributions (`[W, 4]`, A, C, G, T). Its **profile** is TF-MoDISco's: the
//! hypothetical contributions and the contributions, each divided by its own sum of absolute
//! values, side by side (`[W, 8]`). Two profiles are compared by the **continuous Jaccard
//! similarity** at the best offset (at most `(1 - min_overlap) W` positions) and strand:
//!
//! ```text
//! J(x, y) = Σ min(|x|, |y|) sign(x) sign(y) / Σ max(|x|, |y|)   over the overlap of x with y
//! ```
//!
//! (columns of `x` past the ends of `y` count in the denominator only).
//!
//! Clustering (instead of TF-MoDISco's k-nearest-neighbour graph, density adaptation and
//! Leiden runs):
//!
//! 1. **Leader pass**: seqlets in decreasing order of |score|; each joins the cluster whose
//!    running profile it is most similar to when that similarity is at least `join`
//!    (aligned: offset and strand), and otherwise starts a new cluster (at most
//!    `max_clusters`).
//! 2. **Refinement**, `iterations` times: each cluster's profile is the mean of its aligned
//!    members over the `W`-wide window of its frame with the most contribution (so a motif
//!    off-centre in its first seqlet drifts to the middle); every seqlet is reassigned to
//!    its most similar profile (or to none below `join`); clusters whose profiles are at
//!    least `merge` similar are merged.
//! 3. **Motifs**: clusters of at least `min_seqlets` seqlets; each one's position
//!    probabilities (PPM: the aligned bases' frequencies), contribution-weight matrix (CWM:
//!    the mean contributions) and hypothetical CWM, trimmed to the columns from the first to
//!    the last whose summed |CWM| reaches `trim` of the largest (TF-MoDISco's report trim),
//!    kept when some 6-column window of the PPM holds at least `min_ic` bits
//!    (TF-MoDISco's `min_ic_in_window`).
//!
//! Everything is deterministic: the leader pass is sequential, the reassignment parallel per
//! seqlet with no shared sums.

use rayon::prelude::*;

/// One seqlet's data, `W` columns of A, C, G, T.
#[derive(Clone, Debug)]
pub struct Seqlet {
    /// One-hot bases (all zero where the window runs off its sequence or the base is N).
    pub onehot: Vec<[f32; 4]>,
    /// Contributions (hypothetical times one-hot).
    pub contrib: Vec<[f32; 4]>,
    /// Hypothetical contributions.
    pub hyp: Vec<[f32; 4]>,
    /// Columns inside the sequence.
    pub inside: Vec<bool>,
    /// The seqlet's score (its core window's contribution), which orders the leader pass.
    pub score: f32,
}

impl Seqlet {
    fn width(&self) -> usize {
        self.onehot.len()
    }

    /// The reverse complement: columns reversed, A <-> T and C <-> G.
    fn reverse_complement(&self) -> Seqlet {
        let rc = |v: &[[f32; 4]]| -> Vec<[f32; 4]> {
            v.iter().rev().map(|c| [c[3], c[2], c[1], c[0]]).collect()
        };
        Seqlet {
            onehot: rc(&self.onehot),
            contrib: rc(&self.contrib),
            hyp: rc(&self.hyp),
            inside: self.inside.iter().rev().copied().collect(),
            score: self.score,
        }
    }
}

/// Settings of [`discover`].
#[derive(Clone, Debug)]
pub struct Options {
    /// The least fraction of a profile that must overlap the other at an offset.
    pub min_overlap: f64,
    /// The least similarity for a seqlet to join a cluster.
    pub join: f32,
    /// The least similarity of two clusters' profiles for them to merge.
    pub merge: f32,
    /// Clusters with fewer seqlets give no motif.
    pub min_seqlets: usize,
    /// Clusters the leader pass may open.
    pub max_clusters: usize,
    /// Refinement rounds.
    pub iterations: usize,
    /// Trim columns whose summed |CWM| is below this fraction of the largest.
    pub trim: f64,
    /// The least information content (bits) of the best 6-column window.
    pub min_ic: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            min_overlap: 0.7,
            join: 0.3,
            merge: 0.5,
            min_seqlets: 20,
            max_clusters: 200,
            iterations: 3,
            trim: 0.3,
            min_ic: 0.6,
        }
    }
}

/// A seqlet's place in a motif.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Index into the seqlets given.
    pub seqlet: usize,
    /// The motif column of the seqlet's first column (negative when the seqlet starts
    /// before the motif, as the trimmed motif is shorter than a seqlet).
    pub start: isize,
    /// Whether the seqlet is read on the reverse strand.
    pub reverse: bool,
}

/// A discovered motif.
#[derive(Clone, Debug)]
pub struct Found {
    /// The seqlets in it, aligned.
    pub members: Vec<Member>,
    /// Position probabilities of the aligned bases, trimmed.
    pub ppm: Vec<[f64; 4]>,
    /// Mean contributions, trimmed.
    pub cwm: Vec<[f64; 4]>,
    /// Mean hypothetical contributions, trimmed.
    pub hcwm: Vec<[f64; 4]>,
    /// Seqlets covering each column, trimmed.
    pub support: Vec<usize>,
    /// Mean similarity of the members to the motif's profile.
    pub similarity: f64,
}

/// Length of the k-mers of the coarse comparison.
const KMER: usize = 5;
/// Clusters compared in full with a seqlet: the nearest by k-mer cosine.
const CANDIDATES: usize = 8;

/// A seqlet's k-mer embedding (TF-MoDISco's coarse step, simplified): for each k-mer of its
/// bases, read on the strand where its code is smaller (so that both strands give one
/// embedding), the contribution of its bases in the direction of the seqlet's sign, when
/// positive; sparse, unit length.
fn kmer_embedding(s: &Seqlet) -> Vec<(usize, f32)> {
    let sign = if s.score < 0.0 { -1.0 } else { 1.0 };
    let bases: Vec<Option<usize>> = s
        .onehot
        .iter()
        .map(|c| (0..4).find(|&b| c[b] > 0.5))
        .collect();
    let weight: Vec<f32> = s
        .contrib
        .iter()
        .map(|c| sign * c.iter().sum::<f32>())
        .collect();
    let mut v: std::collections::BTreeMap<usize, f32> = Default::default();
    for p in 0..s.width().saturating_sub(KMER - 1) {
        let Some(code) = (p..p + KMER).try_fold(0usize, |acc, q| bases[q].map(|b| acc * 4 + b))
        else {
            continue;
        };
        let rc = (0..KMER).fold(0usize, |acc, i| acc * 4 + (3 - ((code >> (2 * i)) & 3)));
        let x: f32 = weight[p..p + KMER].iter().sum();
        if x > 0.0 {
            *v.entry(code.min(rc)).or_default() += x;
        }
    }
    let norm = v.values().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.into_iter().map(|(k, x)| (k, x / norm)).collect()
}

/// A profile read on the forward strand and on the reverse.
type Strands = (Vec<[f32; 8]>, Vec<[f32; 8]>);

/// The `[W, 8]` profile of arrays: hypothetical contributions and contributions, each
/// divided by its sum of absolute values.
fn profile(hyp: &[[f32; 4]], contrib: &[[f32; 4]]) -> Vec<[f32; 8]> {
    let l1 = |v: &[[f32; 4]]| v.iter().flatten().map(|x| x.abs()).sum::<f32>().max(1e-12);
    let (h, c) = (l1(hyp), l1(contrib));
    hyp.iter()
        .zip(contrib)
        .map(|(a, b)| {
            [
                a[0] / h,
                a[1] / h,
                a[2] / h,
                a[3] / h,
                b[0] / c,
                b[1] / c,
                b[2] / c,
                b[3] / c,
            ]
        })
        .collect()
}

/// `J(x, y)` with `x[j]` against `y[j + offset]`.
fn jaccard_at(x: &[[f32; 8]], y: &[[f32; 8]], offset: isize) -> f32 {
    let (mut num, mut den) = (0f32, 0f32);
    for (j, a) in x.iter().enumerate() {
        let k = j as isize + offset;
        if k < 0 || k as usize >= y.len() {
            den += a.iter().map(|v| v.abs()).sum::<f32>();
            continue;
        }
        let b = &y[k as usize];
        let (mut n, mut d) = ([0f32; 8], [0f32; 8]);
        for c in 0..8 {
            let (p, q) = (a[c], b[c]);
            n[c] = p.abs().min(q.abs()).copysign(p * q);
            d[c] = p.abs().max(q.abs());
        }
        num += n.iter().sum::<f32>();
        den += d.iter().sum::<f32>();
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// The best `(similarity, offset, reverse)` of seqlet profiles `(forward, reverse)` against
/// profile `x`.
fn best(x: &[[f32; 8]], y: &Strands, pad: isize) -> (f32, isize, bool) {
    let mut out = (f32::NEG_INFINITY, 0, false);
    for (reverse, y) in [(false, &y.0), (true, &y.1)] {
        for o in -pad..=pad {
            let s = jaccard_at(x, y, o);
            if s > out.0 {
                out = (s, o, reverse);
            }
        }
    }
    out
}

/// A cluster: sums over its aligned members in a frame of `W + 2 pad` columns, in which
/// member column `i` at offset `o` falls at `pad + i - o`.
#[derive(Clone)]
struct Cluster {
    members: Vec<Member>,
    onehot: Vec<[f64; 4]>,
    contrib: Vec<[f64; 4]>,
    hyp: Vec<[f64; 4]>,
    count: Vec<usize>,
    /// Where the profile window starts in the frame.
    window: usize,
}

impl Cluster {
    fn new(frame: usize, pad: usize) -> Cluster {
        Cluster {
            members: Vec::new(),
            onehot: vec![[0.0; 4]; frame],
            contrib: vec![[0.0; 4]; frame],
            hyp: vec![[0.0; 4]; frame],
            count: vec![0; frame],
            window: pad,
        }
    }

    /// Adds a seqlet whose column `i` falls at frame column `m.start + i` (columns past the
    /// frame are left out).
    fn add(&mut self, s: &Seqlet, m: Member) {
        for i in 0..s.width() {
            let f = m.start + i as isize;
            if !s.inside[i] || f < 0 || f as usize >= self.count.len() {
                continue;
            }
            let f = f as usize;
            for c in 0..4 {
                self.onehot[f][c] += s.onehot[i][c] as f64;
                self.contrib[f][c] += s.contrib[i][c] as f64;
                self.hyp[f][c] += s.hyp[i][c] as f64;
            }
            self.count[f] += 1;
        }
        self.members.push(m);
    }

    /// The mean profile over the profile window.
    fn profile(&self, w: usize) -> Vec<[f32; 8]> {
        let mean = |v: &[[f64; 4]]| -> Vec<[f32; 4]> {
            (self.window..self.window + w)
                .map(|f| {
                    let n = self.count[f].max(1) as f64;
                    [
                        (v[f][0] / n) as f32,
                        (v[f][1] / n) as f32,
                        (v[f][2] / n) as f32,
                        (v[f][3] / n) as f32,
                    ]
                })
                .collect()
        };
        profile(&mean(&self.hyp), &mean(&self.contrib))
    }

    /// Moves the profile window so that it is centred on the motif: the middle of the span
    /// of columns whose mean |contribution| (weighted by the share of members covering them)
    /// reaches 0.3 of the largest. (A window placed by the largest sum alone could put a
    /// short motif anywhere in it, out of reach of the offsets the alignments try.)
    fn recentre(&mut self, w: usize, pad: usize) {
        let weight: Vec<f64> = (0..self.count.len())
            .map(|f| {
                let n = self.count[f].max(1) as f64;
                self.contrib[f].iter().map(|v| v.abs()).sum::<f64>() / n
                    * (self.count[f] as f64 / self.members.len().max(1) as f64)
            })
            .collect();
        let top = weight.iter().fold(0f64, |m, &v| m.max(v));
        if top <= 0.0 {
            self.window = pad;
            return;
        }
        let a = weight.iter().position(|&v| v >= 0.3 * top).unwrap_or(0);
        let b = weight.iter().rposition(|&v| v >= 0.3 * top).unwrap_or(0);
        let centre = (a + b).div_ceil(2);
        self.window = centre.saturating_sub(w / 2).min(self.count.len() - w);
    }
}

/// Clusters `seqlets` (all of one width and one sign) into motifs.
pub fn discover(seqlets: &[Seqlet], opts: &Options) -> Vec<Found> {
    let Some(w) = seqlets.first().map(Seqlet::width) else {
        return Vec::new();
    };
    let pad = ((w as f64) * (1.0 - opts.min_overlap)).floor() as usize;
    let frame = w + 2 * pad;
    let oriented: Vec<(Seqlet, Seqlet)> = seqlets
        .iter()
        .map(|s| (s.clone(), s.reverse_complement()))
        .collect();
    let profiles: Vec<Strands> = oriented
        .iter()
        .map(|(f, r)| (profile(&f.hyp, &f.contrib), profile(&r.hyp, &r.contrib)))
        .collect();
    // Adds seqlet i aligned at offset o (its column j + o against profile column j) and
    // strand.
    let add = |c: &mut Cluster, i: usize, offset: isize, reverse: bool| {
        let s = if reverse {
            &oriented[i].1
        } else {
            &oriented[i].0
        };
        let start = c.window as isize - offset;
        c.add(
            s,
            Member {
                seqlet: i,
                start,
                reverse,
            },
        );
    };
    let kmers: Vec<Vec<(usize, f32)>> = seqlets.iter().map(kmer_embedding).collect();
    // The clusters worth the full comparison: the `CANDIDATES` nearest by k-mer cosine.
    let candidates = |i: usize, sums: &[Vec<f32>]| -> Vec<usize> {
        let mut cos: Vec<(f32, usize)> = sums
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                (
                    kmers[i].iter().map(|&(j, x)| x * v[j]).sum::<f32>() / norm,
                    k,
                )
            })
            .collect();
        cos.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        cos.truncate(CANDIDATES);
        cos.into_iter().map(|(_, k)| k).collect()
    };
    let add_kmers = |v: &mut Vec<f32>, i: usize| {
        for &(j, x) in &kmers[i] {
            v[j] += x;
        }
    };
    // 1. The leader pass, strongest seqlets first.
    let mut order: Vec<usize> = (0..seqlets.len()).collect();
    order.sort_by(|&a, &b| {
        seqlets[b]
            .score
            .abs()
            .total_cmp(&seqlets[a].score.abs())
            .then(a.cmp(&b))
    });
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut reps: Vec<Vec<[f32; 8]>> = Vec::new();
    let mut sums: Vec<Vec<f32>> = Vec::new();
    for &i in &order {
        let top = candidates(i, &sums)
            .into_iter()
            .map(|k| (k, best(&reps[k], &profiles[i], pad as isize)))
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(&a.0)));
        match top {
            Some((k, (s, offset, reverse))) if s >= opts.join => {
                add(&mut clusters[k], i, offset, reverse);
                add_kmers(&mut sums[k], i);
                reps[k] = clusters[k].profile(w);
            }
            _ if clusters.len() < opts.max_clusters => {
                let mut c = Cluster::new(frame, pad);
                add(&mut c, i, 0, false);
                reps.push(c.profile(w));
                clusters.push(c);
                let mut v = vec![0f32; 1 << (2 * KMER)];
                add_kmers(&mut v, i);
                sums.push(v);
            }
            _ => {}
        }
    }
    // Singletons and pairs are noise (or a motif's stragglers, which the reassignment gives
    // to their motif): the refinement starts from the clusters that gathered seqlets.
    let keep = (opts.min_seqlets / 4).max(3);
    clusters.retain(|c| c.members.len() >= keep);
    // 2. Refinement: recentre, reassign, merge.
    let mut similarity = vec![0f32; seqlets.len()];
    for _ in 0..opts.iterations {
        clusters.retain(|c| !c.members.is_empty());
        for c in &mut clusters {
            c.recentre(w, pad);
        }
        let reps: Vec<Vec<[f32; 8]>> = clusters.iter().map(|c| c.profile(w)).collect();
        let sums: Vec<Vec<f32>> = clusters
            .iter()
            .map(|c| {
                let mut v = vec![0f32; 1 << (2 * KMER)];
                for m in &c.members {
                    add_kmers(&mut v, m.seqlet);
                }
                v
            })
            .collect();
        let assigned: Vec<Option<(usize, f32, isize, bool)>> = (0..seqlets.len())
            .into_par_iter()
            .map(|i| {
                let mut top: Option<(usize, f32, isize, bool)> = None;
                for k in candidates(i, &sums) {
                    let (s, o, r) = best(&reps[k], &profiles[i], pad as isize);
                    if s >= opts.join && top.is_none_or(|t| s > t.1 || (s == t.1 && k < t.0)) {
                        top = Some((k, s, o, r));
                    }
                }
                top
            })
            .collect();
        let mut next: Vec<Cluster> = (0..clusters.len())
            .map(|_| Cluster::new(frame, pad))
            .collect();
        for (i, a) in assigned.iter().enumerate() {
            similarity[i] = a.map_or(0.0, |a| a.1);
            if let Some((k, _, offset, reverse)) = *a {
                add(&mut next[k], i, offset, reverse);
            }
        }
        next.retain(|c| !c.members.is_empty());
        clusters = merge(next, (w, pad, opts.merge), &profiles, &add);
    }
    // 3. Motifs.
    let mut found: Vec<Found> = clusters
        .into_iter()
        .filter(|c| c.members.len() >= opts.min_seqlets)
        .filter_map(|c| motif(&c, opts, &similarity))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.members.len()));
    found
}

/// Merges clusters whose profiles are at least `threshold` similar, largest first: the
/// smaller one's seqlets are realigned, each to the larger one's profile.
fn merge(
    mut clusters: Vec<Cluster>,
    (w, pad, threshold): (usize, usize, f32),
    profiles: &[Strands],
    add: &impl Fn(&mut Cluster, usize, isize, bool),
) -> Vec<Cluster> {
    clusters.sort_by_key(|c| std::cmp::Reverse(c.members.len()));
    let mut out: Vec<Cluster> = Vec::new();
    let mut reps: Vec<Vec<[f32; 8]>> = Vec::new();
    for mut c in clusters {
        c.recentre(w, pad);
        let p = c.profile(w);
        let rc: Vec<[f32; 8]> = p
            .iter()
            .rev()
            .map(|v| [v[3], v[2], v[1], v[0], v[7], v[6], v[5], v[4]])
            .collect();
        let pair = (p.clone(), rc);
        let target = reps
            .iter()
            .enumerate()
            .map(|(k, rep)| (k, best(rep, &pair, pad as isize).0))
            .filter(|&(_, s)| s >= threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        match target {
            Some((k, _)) => {
                for m in &c.members {
                    let (_, offset, reverse) = best(&reps[k], &profiles[m.seqlet], pad as isize);
                    add(&mut out[k], m.seqlet, offset, reverse);
                }
            }
            None => {
                reps.push(p);
                out.push(c);
            }
        }
    }
    out
}

/// The information content (bits, against a uniform background) of a column.
fn ic(col: &[f64; 4]) -> f64 {
    col.iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| p * (p / 0.25).log2())
        .sum::<f64>()
        .max(0.0)
}

fn motif(c: &Cluster, opts: &Options, similarity: &[f32]) -> Option<Found> {
    let n = c.members.len();
    let mean = |v: &[[f64; 4]], f: usize| {
        let k = c.count[f].max(1) as f64;
        [v[f][0] / k, v[f][1] / k, v[f][2] / k, v[f][3] / k]
    };
    // Columns most seqlets cover (TF-MoDISco's trim to support), then the CWM trim.
    let support_min = (n as f64 * 0.2).ceil() as usize;
    let weight: Vec<f64> = (0..c.count.len())
        .map(|f| {
            if c.count[f] < support_min.max(1) {
                0.0
            } else {
                mean(&c.contrib, f).iter().map(|v| v.abs()).sum()
            }
        })
        .collect();
    let top = weight.iter().fold(0f64, |m, &v| m.max(v));
    if top <= 0.0 {
        return None;
    }
    let keep: Vec<usize> = (0..weight.len())
        .filter(|&f| weight[f] >= opts.trim * top)
        .collect();
    let (a, b) = (*keep.first()?, *keep.last()? + 1);
    let ppm: Vec<[f64; 4]> = (a..b)
        .map(|f| {
            let m = mean(&c.onehot, f);
            let s: f64 = m.iter().sum();
            if s > 0.0 {
                [m[0] / s, m[1] / s, m[2] / s, m[3] / s]
            } else {
                [0.25; 4]
            }
        })
        .collect();
    let best_ic = ppm
        .windows(6.min(ppm.len()))
        .map(|w| w.iter().map(ic).sum::<f64>())
        .fold(0f64, f64::max);
    if best_ic < opts.min_ic {
        return None;
    }
    Some(Found {
        members: c
            .members
            .iter()
            .map(|m| Member {
                start: m.start - a as isize,
                ..*m
            })
            .collect(),
        ppm,
        cwm: (a..b).map(|f| mean(&c.contrib, f)).collect(),
        hcwm: (a..b).map(|f| mean(&c.hyp, f)).collect(),
        support: c.count[a..b].to_vec(),
        similarity: c
            .members
            .iter()
            .map(|m| similarity[m.seqlet] as f64)
            .sum::<f64>()
            / n as f64,
    })
}

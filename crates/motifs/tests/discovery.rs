//! Motif discovery on synthetic seqlets: two motifs planted at varying places and on either
//! strand, among noise seqlets, come back as two motifs with their consensus and members.

use ferrosea_motifs::discovery::{discover, Options, Seqlet};

/// A small deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() * n as f64) as usize % n
    }
}

const W: usize = 41;

fn base(c: u8) -> usize {
    b"ACGT".iter().position(|&b| b == c).unwrap()
}

/// A seqlet with `motif` at `at` (hypothetical contributions: +1 for the motif's base, -0.3
/// for the others; noise elsewhere), reverse-complemented when `reverse`.
fn seqlet(rng: &mut Lcg, motif: Option<&[u8]>, at: usize, reverse: bool) -> Seqlet {
    let mut onehot = vec![[0f32; 4]; W];
    let mut hyp = vec![[0f32; 4]; W];
    for p in 0..W {
        let b = rng.below(4);
        onehot[p][b] = 1.0;
        for h in &mut hyp[p] {
            *h = ((rng.next() - 0.5) * 0.1) as f32;
        }
    }
    if let Some(m) = motif {
        for (i, &letter) in m.iter().enumerate() {
            let b = base(letter);
            onehot[at + i] = [0.0; 4];
            onehot[at + i][b] = 1.0;
            for (c, h) in hyp[at + i].iter_mut().enumerate() {
                *h = if c == b { 1.0 } else { -0.3 };
            }
        }
    }
    let rc = |v: &[[f32; 4]]| -> Vec<[f32; 4]> {
        v.iter().rev().map(|c| [c[3], c[2], c[1], c[0]]).collect()
    };
    if reverse {
        onehot = rc(&onehot);
        hyp = rc(&hyp);
    }
    let contrib: Vec<[f32; 4]> = hyp
        .iter()
        .zip(&onehot)
        .map(|(h, x)| [h[0] * x[0], h[1] * x[1], h[2] * x[2], h[3] * x[3]])
        .collect();
    let score = contrib[10..31].iter().flatten().sum();
    Seqlet {
        onehot,
        contrib,
        hyp,
        inside: vec![true; W],
        score,
    }
}

fn revcomp(s: &str) -> String {
    s.bytes()
        .rev()
        .map(|b| match b {
            b'A' => 'T',
            b'C' => 'G',
            b'G' => 'C',
            _ => 'A',
        })
        .collect()
}

fn consensus(ppm: &[[f64; 4]]) -> String {
    ppm.iter()
        .map(|c| {
            let k = (0..4).max_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap();
            if c[k] >= 0.5 {
                b"ACGT"[k] as char
            } else {
                'N'
            }
        })
        .collect()
}

#[test]
fn planted_motifs_are_found_with_their_members() {
    let mut rng = Lcg(7);
    let motifs: [&[u8]; 2] = [b"TTAGGCATCCGA", b"GACCTTGAAC"];
    let mut seqlets = Vec::new();
    let mut truth = Vec::new();
    for k in 0..300 {
        let m = k % 3;
        let s = if m < 2 {
            let (at, reverse) = (10 + rng.below(12), rng.next() < 0.5);
            seqlet(&mut rng, Some(motifs[m]), at, reverse)
        } else {
            seqlet(&mut rng, None, 0, false)
        };
        seqlets.push(s);
        truth.push(m);
    }
    let found = discover(&seqlets, &Options::default());
    assert_eq!(
        found.len(),
        2,
        "{:?}",
        found.iter().map(|f| consensus(&f.ppm)).collect::<Vec<_>>()
    );
    for f in &found {
        let c = consensus(&f.ppm);
        let k = motifs
            .iter()
            .position(|m| {
                let m = std::str::from_utf8(m).unwrap();
                c.contains(m) || c.contains(&revcomp(m))
            })
            .unwrap_or_else(|| panic!("{c} is neither motif"));
        let members = f.members.iter().filter(|m| truth[m.seqlet] == k).count();
        // All the motif's 100 seqlets, and few others.
        assert!(
            members >= 95 && f.members.len() <= 105,
            "{c}: {members} of {}",
            f.members.len()
        );
        // Every member of one strand relative to the motif: the planted strand.
        assert_eq!(f.cwm.len(), f.ppm.len());
        assert!(f.support.iter().all(|&n| n > 50));
    }
}

#[test]
fn noise_alone_gives_no_motif() {
    let mut rng = Lcg(11);
    let seqlets: Vec<Seqlet> = (0..200).map(|_| seqlet(&mut rng, None, 0, false)).collect();
    let found = discover(&seqlets, &Options::default());
    assert!(found.is_empty(), "{}", found.len());
    assert!(discover(&[], &Options::default()).is_empty());
}

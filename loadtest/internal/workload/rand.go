package workload

import "math"

// rng is a splitmix64 stream. Workloads seed one per request from
// (seed, request number), so request i is the same on every run and on
// every worker.
type rng struct{ s uint64 }

func newRNG(seed, i uint64) rng {
	r := rng{s: seed*0x9e3779b97f4a7c15 ^ (i+1)*0xd1b54a32d192ed03}
	r.Uint64()
	return r
}

// Uint64 returns the next 64 random bits.
func (r *rng) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// IntN returns a uniform integer in [0, n); n must be positive.
func (r *rng) IntN(n int) int { return int(r.Uint64N(uint64(n))) }

// Uint64N returns a uniform integer in [0, n) (Lemire's method, without
// the rejection step: the bias is below 2^-32 for the sizes used here).
func (r *rng) Uint64N(n uint64) uint64 {
	hi, _ := mul64(r.Uint64(), n)
	return hi
}

// Float64 returns a uniform float in [0, 1).
func (r *rng) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

func mul64(x, y uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	x0, x1 := x&mask32, x>>32
	y0, y1 := y&mask32, y>>32
	w0 := x0 * y0
	t := x1*y0 + w0>>32
	w1, w2 := t&mask32, t>>32
	w1 += x0 * y1
	hi = x1*y1 + w2 + w1>>32
	lo = x * y
	return
}

// permute maps 0..n-1 onto itself one to one, in a scattered order.
func permute(i, n uint64) uint64 {
	const mul = 2654435761 // prime: a unit modulo any n it does not divide
	if n == 0 || n%mul == 0 {
		return i
	}
	return (i%n*mul + 12345) % n
}

// Distribution picks one of n items.
type Distribution interface {
	// Pick returns an item in [0, n) using r.
	Pick(r *rng) uint64
	// String names the distribution.
	String() string
}

// Hot always picks the same item.
type Hot struct{ Item uint64 }

// Pick returns h.Item.
func (h Hot) Pick(*rng) uint64 { return h.Item }

// String returns "hot".
func (Hot) String() string { return "hot" }

// Uniform picks each of N items with equal probability.
type Uniform struct{ N uint64 }

// Pick returns a uniform item.
func (u Uniform) Pick(r *rng) uint64 { return r.Uint64N(u.N) }

// String returns "uniform".
func (Uniform) String() string { return "uniform" }

// Zipfian picks items with probability proportional to 1/rank^θ, the
// skew of YCSB's workloads (θ = 0.99), using the closed form of Gray et
// al., "Quickly Generating Billion-Record Synthetic Databases" (SIGMOD
// 1994). Ranks are scattered over the items so that popular items are not
// neighbours in key order.
type Zipfian struct {
	n                   uint64
	theta, alpha, zetan float64
	eta, half           float64
}

// NewZipfian returns a Zipfian distribution over n items with skew theta
// in (0, 1). It costs O(n) once.
func NewZipfian(n uint64, theta float64) *Zipfian {
	z := &Zipfian{n: n, theta: theta, alpha: 1 / (1 - theta)}
	for i := uint64(1); i <= n; i++ {
		z.zetan += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	z.eta = (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/z.zetan)
	z.half = 1 + math.Pow(0.5, theta)
	return z
}

// Rank returns the rank (0 is the most popular) for a uniform u in [0, 1).
func (z *Zipfian) Rank(u float64) uint64 {
	uz := u * z.zetan
	if uz < 1 {
		return 0
	}
	if uz < z.half || z.n < 3 {
		return min(1, z.n-1)
	}
	return min(uint64(float64(z.n)*math.Pow(z.eta*u-z.eta+1, z.alpha)), z.n-1)
}

// Pick returns the item of a zipfian-distributed rank.
func (z *Zipfian) Pick(r *rng) uint64 { return permute(z.Rank(r.Float64()), z.n) }

// String returns "zipfian".
func (*Zipfian) String() string { return "zipfian" }

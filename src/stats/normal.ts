// The standard normal distribution: Φ (cdf) and Φ⁻¹ (quantile), for the A/B test's sample sizes
// and intervals. Written here rather than taken from a package: the well-kept one
// (@stdlib/stats-base-dists-normal-{cdf,quantile}) installs 148 packages for these two functions.
//
// Φ(x) = erfc(−x/√2)/2 with erfc from fdlibm's s_erf.c (Sun Microsystems, 1993: "Developed at
// SunPro … Permission to use, copy, modify, and distribute this software is freely granted,
// provided that this notice is preserved."), accurate to < 1 ulp, relative accuracy kept deep
// in the lower tail. Φ⁻¹ starts from Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4) and takes
// three Halley steps on Φ, each cubically convergent (the refinement Acklam describes for his
// algorithm), which reaches double precision. test/stats/normal.test.ts checks both against
// published values (R's pnorm/qnorm): relative error below 1e-14 for |x| < 10, 1e-12 beyond.

const erx = 8.45062911510467529297e-1;
const efx = 1.28379167095512558561e-1;
const pp = [efx, -3.25042107247001499370e-1, -2.84817495755985104766e-2, -5.77027029648944159157e-3, -2.37630166566501626084e-5];
const qq = [1, 3.97917223959155352819e-1, 6.50222499887672944485e-2, 5.08130628187576562776e-3, 1.32494738004321644526e-4, -3.96022827877536812320e-6];
const pa = [-2.36211856075265944077e-3, 4.14856118683748331666e-1, -3.72207876035701323847e-1, 3.18346619901161753674e-1, -1.10894694282396677476e-1, 3.54783043256182359371e-2, -2.16637559486879084300e-3];
const qa = [1, 1.06420880400844228286e-1, 5.40397917702171048937e-1, 7.18286544141962662868e-2, 1.26171219808761642112e-1, 1.36370839120290507362e-2, 1.19844998467991074170e-2];
const ra = [-9.86494403484714822705e-3, -6.93858572707181764372e-1, -1.05586262253232909814e1, -6.23753324503260060396e1, -1.62396669462573470355e2, -1.84605092906711035994e2, -8.12874355063065934246e1, -9.81432934416914548592];
const sa = [1, 1.96512716674392571292e1, 1.37657754143519042600e2, 4.34565877475229228821e2, 6.45387271733267880336e2, 4.29008140027567833386e2, 1.08635005541779435134e2, 6.57024977031928170135, -6.04244152148580987438e-2];
const rb = [-9.86494292470009928597e-3, -7.99283237680523006574e-1, -1.77579549177547519889e1, -1.60636384855821916062e2, -6.37566443368389627722e2, -1.02509513161107724954e3, -4.83519191608651397019e2];
const sb = [1, 3.03380607434824582924e1, 3.25792512996573918826e2, 1.53672958608443695994e3, 3.19985821950859553908e3, 2.55305040643316442583e3, 4.74528541206955367215e2, -2.24409524465858183362e1];

/** c[0] + c[1]x + c[2]x² + … (Horner) */
function poly(c: number[], x: number): number {
  let y = 0;
  for (let i = c.length - 1; i >= 0; i--) y = y * x + c[i]!;
  return y;
}

const words = new DataView(new ArrayBuffer(8));
/** x with the low 32 bits of its mantissa cleared (fdlibm's SET_LOW_WORD(z, 0)). */
function highWord(x: number): number {
  words.setFloat64(0, x);
  words.setUint32(4, 0);
  return words.getFloat64(0);
}

/** The complementary error function, erfc(x) = 1 − erf(x) (fdlibm s_erf.c). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return 0;
  if (x === -Infinity) return 2;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 1.3877787807814457e-17) return 1 - x;
    const z = x * x;
    const y = poly(pp, z) / poly(qq, z);
    if (x < 0.25) return 1 - (x + x * y);
    return 0.5 - (x * y + (x - 0.5));
  }
  if (ax < 1.25) {
    const s = ax - 1;
    const pq = poly(pa, s) / poly(qa, s);
    return x < 0 ? 1 + erx + pq : 1 - erx - pq;
  }
  if (ax < 28) {
    const s = 1 / (ax * ax);
    let r: number;
    if (ax < 1 / 0.35) r = poly(ra, s) / poly(sa, s);
    else {
      if (x < -6) return 2;
      r = poly(rb, s) / poly(sb, s);
    }
    const z = highWord(ax);
    const e = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + r);
    return x < 0 ? 2 - e / ax : e / ax;
  }
  return x < 0 ? 2 : 0;
}

/** Φ(x): P(Z ≤ x) for a standard normal Z. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Φ⁻¹(p): the x with Φ(x) = p, for 0 < p < 1 (±Infinity at 0 and 1; NaN outside). */
export function normalQuantile(p: number): number {
  if (Number.isNaN(p) || p < 0 || p > 1) return NaN;
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve in the lower tail, where Φ keeps its relative accuracy; the upper tail by symmetry.
  if (p > 0.5) return -normalQuantile(1 - p);
  const t = Math.sqrt(-2 * Math.log(p));
  let x = -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
  for (let i = 0; i < 3; i++) {
    const e = normalCdf(x) - p;
    const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
    x -= u / (1 + (x * u) / 2);
  }
  return x;
}

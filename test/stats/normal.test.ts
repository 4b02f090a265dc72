// Φ and Φ⁻¹ against published values (R 4.x: pnorm, qnorm; 16 significant digits).
import t from 'tap';
import { erfc, normalCdf, normalQuantile } from '../../src/stats/normal.js';

const close = (t: { ok: (ok: boolean, message: string) => unknown }, got: number, want: number, rel: number, what: string) =>
  t.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: ${got} ≈ ${want}`);

t.test('Φ matches R pnorm, deep into the tails', async (t) => {
  const table: Array<[number, number]> = [
    [0, 0.5], [1.959963984540054, 0.975], [-1.959963984540054, 0.025], [1, 0.8413447460685429],
    [-1, 0.1586552539314571], [0.5, 0.6914624612740131], [-3, 0.001349898031630095],
    [-5, 2.866515718791939e-07], [-10, 7.619853024160527e-24], [-20, 2.753624118606233e-89],
    [-37, 5.725571222524496e-300], [2.5, 0.9937903346742238], [-0.3, 0.3820885778110474],
  ];
  // relative error ~1e-15 near the centre; in the far tail x/√2 rounds, and x² amplifies it
  for (const [x, p] of table) close(t, normalCdf(x), p, x < -9 ? 1e-12 : 1e-14, `Φ(${x})`);
  t.equal(normalCdf(Infinity), 1);
  t.equal(normalCdf(-Infinity), 0);
  t.equal(erfc(0), 1);
  t.ok(Number.isNaN(normalCdf(NaN)));
});

t.test('Φ⁻¹ matches R qnorm and inverts Φ', async (t) => {
  const table: Array<[number, number]> = [
    [0.975, 1.959963984540054], [0.8, 0.8416212335729143], [0.95, 1.644853626951472], [0.9, 1.281551565544601],
    [0.995, 2.575829303548901], [0.025, -1.959963984540054], [1e-10, -6.361340902404056], [1e-20, -9.262340089798408],
    [0.3, -0.5244005127080407], [0.999, 3.090232306167813],
  ];
  for (const [p, x] of table) close(t, normalQuantile(p), x, 1e-13, `Φ⁻¹(${p})`);
  for (let p = 0.001; p < 1; p += 0.0173) close(t, normalCdf(normalQuantile(p)), p, 1e-13, `Φ(Φ⁻¹(${p.toFixed(4)}))`);
  t.equal(normalQuantile(0.5), 0);
  t.equal(normalQuantile(0), -Infinity);
  t.equal(normalQuantile(1), Infinity);
  t.ok(Number.isNaN(normalQuantile(1.5)));
  t.ok(Number.isNaN(normalQuantile(-0.1)));
});

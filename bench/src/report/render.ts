/**
 * Vega-Lite specs rendered to PNG without a browser: vega-lite compiles the spec, vega renders
 * the scene to SVG (headless view), resvg (a Rust renderer shipped as a prebuilt npm package)
 * rasterizes it with the system's DejaVu fonts. The three packages are bench/package.json
 * dependencies, loaded at run time from bench/node_modules (setup.ts installs them), so the
 * repository's type check does not need them.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BENCH_DIR } from '../paths.js';

interface VegaLiteApi {
  compile(spec: object): { spec: object };
}
interface VegaView {
  toSVG(scale?: number): Promise<string>;
  finalize(): void;
}
interface VegaApi {
  parse(spec: object): unknown;
  View: new (runtime: unknown, options: { renderer: 'none' }) => VegaView;
}
interface ResvgApi {
  Resvg: new (
    svg: string,
    options: {
      background?: string;
      fitTo?: { mode: 'zoom'; value: number };
      font?: { loadSystemFonts?: boolean; defaultFontFamily?: string };
    },
  ) => { render(): { asPng(): Buffer } };
}

let loaded: { vl: VegaLiteApi; vega: VegaApi; resvg: ResvgApi } | null = null;

async function load(): Promise<{ vl: VegaLiteApi; vega: VegaApi; resvg: ResvgApi }> {
  if (loaded) return loaded;
  const require = createRequire(path.join(BENCH_DIR, 'package.json'));
  const importFrom = async <T>(name: string): Promise<T> => (await import(require.resolve(name))) as T;
  loaded = {
    vl: await importFrom<VegaLiteApi>('vega-lite'),
    vega: await importFrom<VegaApi>('vega'),
    resvg: await importFrom<ResvgApi>('@resvg/resvg-js'),
  };
  return loaded;
}

/** Renders a Vega-Lite spec to a PNG file. */
export async function renderPng(spec: object, file: string): Promise<void> {
  const { vl, vega, resvg } = await load();
  const compiled = vl.compile({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    config: {
      font: 'DejaVu Sans',
      title: { fontSize: 15, anchor: 'start' },
      axis: { labelFontSize: 11, titleFontSize: 12 },
      legend: { labelFontSize: 11, titleFontSize: 12 },
    },
    background: 'white',
    ...spec,
  }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new resvg.Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
  writeFileSync(file, png);
}

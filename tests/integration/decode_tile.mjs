// decode_tile.mjs — decodes vector tiles with the reference decoder
// (@mapbox/vector-tile 3 + pbf 5) and prints them as JSON, one object per
// file, for tests/integration/test_tiles.sh.
//
//   node decode_tile.mjs FILE.mvt [...]      (gzipped files are inflated)
//
// Output: [{file, layers: [{name, version, extent, features: [{id, type,
// properties, rings: [[[x, y], ...], ...], lonlat: GeoJSON geometry}]}]}]
// where rings are the tile coordinates the decoder read (loadGeometry) and
// lonlat the decoder's own toGeoJSON when the file name ends in
// "z-x-y.mvt". A file the decoder cannot read gives {file, error}.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { PbfReader as Pbf } from 'pbf';
import { VectorTile } from '@mapbox/vector-tile';

function tileCoords(file) {
    const m = path.basename(file).match(/(\d+)-(\d+)-(\d+)\.mvt$/);
    return m ? m.slice(1).map(Number) : null;
}

function decode(file) {
    let buf = fs.readFileSync(file);
    if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
    const tile = new VectorTile(new Pbf(buf));
    const zxy = tileCoords(file);
    const layers = [];
    for (const name of Object.keys(tile.layers)) {
        const l = tile.layers[name];
        const features = [];
        for (let i = 0; i < l.length; i++) {
            const f = l.feature(i);
            const rings = f.loadGeometry().map((r) => r.map((p) => [p.x, p.y]));
            const out = { id: f.id, type: f.type, properties: f.properties, rings };
            if (zxy) out.lonlat = f.toGeoJSON(zxy[1], zxy[2], zxy[0]).geometry;
            features.push(out);
        }
        layers.push({ name, version: l.version, extent: l.extent, features });
    }
    return { file, layers };
}

const out = [];
for (const file of process.argv.slice(2)) {
    try {
        out.push(decode(file));
    } catch (e) {
        out.push({ file, error: String(e && e.message ? e.message : e) });
    }
}
process.stdout.write(JSON.stringify(out));

// app.js — the map page of kartenn (GET /): MapLibre GL JS served by
// kartenn itself, the Lanester style, a layer list, a legend, a scale bar
// and a popup with the public attributes of the feature clicked.
//
// Everything comes from this server: the style (/styles/lanester.json,
// whose metadata lists the layer groups and the legend), the catalogue
// (/api/layers: French titles of layers and attributes, and whether the
// store holds fictional demonstration data), the tiles and the feature
// attributes (/api/features/{layer}/{id}). No request leaves the server.
import * as maplibregl from '/static/maplibre-gl/maplibre-gl.mjs';

const STYLE_URL = '/styles/lanester.json';
const CLICK_TOLERANCE = 5; // pixels around the pointer for points and lines

// MapLibre's own interface texts, in French.
const LOCALE = {
    'AttributionControl.ToggleAttribution': 'Afficher les sources',
    'AttributionControl.MapFeedback': 'Signaler une erreur',
    'FullscreenControl.Enter': 'Plein écran',
    'FullscreenControl.Exit': 'Quitter le plein écran',
    'GeolocateControl.FindMyLocation': 'Me localiser',
    'GeolocateControl.LocationNotAvailable': 'Position indisponible',
    'LogoControl.Title': 'MapLibre',
    'Map.Title': 'Carte',
    'Marker.Title': 'Repère',
    'NavigationControl.ResetBearing': 'Orienter vers le nord',
    'NavigationControl.ZoomIn': 'Zoom avant',
    'NavigationControl.ZoomOut': 'Zoom arrière',
    'Popup.Close': 'Fermer',
    'ScaleControl.Feet': 'ft',
    'ScaleControl.Meters': 'm',
    'ScaleControl.Kilometers': 'km',
    'ScaleControl.Miles': 'mi',
    'ScaleControl.NauticalMiles': 'nm',
    'GlobeControl.Enable': 'Activer le globe',
    'GlobeControl.Disable': 'Désactiver le globe',
    'TerrainControl.Enable': 'Activer le relief',
    'TerrainControl.Disable': 'Désactiver le relief',
    'CooperativeGesturesHandler.WindowsHelpText': 'Ctrl + molette pour zoomer',
    'CooperativeGesturesHandler.MacHelpText': '⌘ + molette pour zoomer',
    'CooperativeGesturesHandler.MobileHelpText': 'Deux doigts pour déplacer la carte',
};

const CLASS_COLOURS = {A: '#1a9641', B: '#f08c00', C: '#d7191c'};

function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('data-')) e.setAttribute(k, v);
        else e[k] = v;
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
}

function showError(message) {
    const box = document.getElementById('error');
    box.textContent = message;
    box.hidden = false;
}

async function getJSON(url) {
    const r = await fetch(url, {headers: {Accept: 'application/json'}});
    if (!r.ok) {
        let detail = '';
        try { detail = (await r.json()).detail || ''; } catch { /* not a problem body */ }
        throw new Error(`${url} : ${r.status}${detail ? ` (${detail})` : ''}`);
    }
    return r.json();
}

// "Type de support (mât, candélabre…)" -> "Type de support"
function shortTitle(title) {
    return title ? title.replace(/\s*\(.*\)\s*$/, '') : title;
}

function formatValue(v) {
    if (v === true) return 'oui';
    if (v === false) return 'non';
    // 3.81 -> "3,81"; integers as they are (years, references: no
    // thousands separator).
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v).replace('.', ',');
    if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v))
        return new Date(`${v}T00:00:00Z`).toLocaleDateString('fr-FR', {timeZone: 'UTC'});
    return String(v);
}

// ---- layer list ---------------------------------------------------------

// Style layer ids by source-layer (store layer name).
function styleLayersBySource(map) {
    const by = new Map();
    for (const l of map.getStyle().layers) {
        const sl = l['source-layer'];
        if (!sl) continue;
        if (!by.has(sl)) by.set(sl, []);
        by.get(sl).push(l.id);
    }
    return by;
}

function buildLayerList(map, catalogue, groups, bySource) {
    const box = document.getElementById('layers');
    box.replaceChildren();
    const rows = [];
    for (const g of groups) {
        const fs = el('fieldset', {}, el('legend', {text: g.title}));
        for (const name of g.layers) {
            const ids = bySource.get(name);
            if (!ids) continue;
            const info = catalogue.get(name);
            const input = el('input', {type: 'checkbox', checked: true, name: 'layer', value: name});
            input.addEventListener('change', () => {
                for (const id of ids)
                    map.setLayoutProperty(id, 'visibility', input.checked ? 'visible' : 'none');
            });
            const hint = el('span', {class: 'hint'});
            const label = el('label', {'data-layer': name}, input,
                el('span', {text: info?.title || name}), hint);
            rows.push({label, hint, minzoom: info?.zoom?.min ?? 0});
            fs.append(label);
        }
        box.append(fs);
    }
    // Layers whose tiles start at a higher zoom are greyed, with the zoom
    // at which they appear.
    const update = () => {
        const z = map.getZoom();
        for (const r of rows) {
            const out = z < r.minzoom;
            r.label.classList.toggle('out-of-zoom', out);
            r.hint.textContent = out ? `zoom ${r.minzoom}+` : '';
            r.label.title = out ? `Visible à partir du niveau de zoom ${r.minzoom}` : '';
        }
    };
    map.on('zoomend', update);
    update();
}

function buildLegend(sections) {
    const box = document.getElementById('legend');
    box.replaceChildren();
    for (const s of sections) {
        const ul = el('ul');
        for (const it of s.items)
            ul.append(el('li', {}, el('span', {class: `swatch ${s.symbol || ''}`, style: `background:${it.color}`}),
                el('span', {text: it.label})));
        box.append(el('h3', {text: s.title}), ul);
        if (s.shapes) box.append(el('p', {class: 'note', text: s.shapes}));
    }
}

// ---- feature popup ------------------------------------------------------

// The feature's page in the API. The MVT feature id is the store's row
// id (fid), which /api/features accepts as well as the uid: a tile does
// not repeat each feature's 36-character uid. The id is a row id of this
// store only — fine for a request made now, not a reference to keep (the
// answer gives the stable uid). Without an id the popup shows what the
// tile holds.
function featureUrl(f) {
    return `/api/features/${encodeURIComponent(f.sourceLayer)}/${encodeURIComponent(String(f.id))}`;
}

const SKIP = new Set(['layer', 'uid', 'version', 'updated_at', 'dtdict_class']);
const HEADINGS = ['reference', 'nom', 'code', 'id'];

function renderFeature(feature, info) {
    const p = feature.properties || {};
    const headingKey = HEADINGS.find((k) => p[k] != null && p[k] !== '');
    const heading = headingKey && p[headingKey];
    const box = el('div', {class: 'feature'});
    box.append(el('h3', {text: heading != null ? String(heading) : (info?.title || p.layer)}));
    box.append(el('p', {class: 'kind', text: info?.title || p.layer}));
    const table = el('table');
    if (p.dtdict_class) {
        const cls = el('span', {class: 'class', text: p.dtdict_class,
            style: `background:${CLASS_COLOURS[p.dtdict_class] || '#8c8c8c'}`});
        table.append(el('tr', {}, el('th', {text: 'Classe DT-DICT'}), el('td', {}, cls)));
    }
    const attrs = info?.attributes || Object.keys(p).map((name) => ({name}));
    for (const a of attrs) {
        if (SKIP.has(a.name) || a.name === headingKey || p[a.name] == null || p[a.name] === '') continue;
        table.append(el('tr', {}, el('th', {text: shortTitle(a.title) || a.name}),
            el('td', {text: formatValue(p[a.name])})));
    }
    if (p.updated_at)
        table.append(el('tr', {}, el('th', {text: 'Mis à jour le'}),
            el('td', {text: new Date(p.updated_at).toLocaleDateString('fr-FR')})));
    box.append(table);
    if (p.uid) box.append(el('p', {class: 'uid', text: `Identifiant : ${p.uid}`}));
    return box;
}

function pickFeature(map, point, layerIds) {
    const t = CLICK_TOLERANCE;
    const found = map.queryRenderedFeatures(
        [[point.x - t, point.y - t], [point.x + t, point.y + t]], {layers: layerIds});
    // Topmost first; the commune outline only when nothing else is there.
    return found.find((f) => f.sourceLayer !== 'commune') || found[0];
}

function setupPopups(map, catalogue) {
    const interactive = map.getStyle().layers
        .filter((l) => l['source-layer'] && l.type !== 'symbol')
        .map((l) => l.id);
    const popup = new maplibregl.Popup({maxWidth: '360px', focusAfterOpen: false});
    let seq = 0;
    map.on('click', async (e) => {
        const f = pickFeature(map, e.point, interactive);
        if (!f) { popup.remove(); return; }
        const info = catalogue.get(f.sourceLayer);
        const mine = ++seq;
        popup.setLngLat(e.lngLat)
            .setDOMContent(el('div', {class: 'feature'},
                el('p', {class: 'kind', text: `${info?.title || f.sourceLayer} — chargement…`})))
            .addTo(map);
        try {
            const feature = Number.isInteger(f.id) ? await getJSON(featureUrl(f))
                : {properties: {layer: f.sourceLayer, ...f.properties}};
            if (mine === seq) popup.setDOMContent(renderFeature(feature, info));
        } catch (err) {
            if (mine === seq)
                popup.setDOMContent(el('div', {class: 'feature'},
                    el('p', {text: `Informations indisponibles : ${err.message}`})));
        }
    });
    map.on('mousemove', (e) => {
        const f = pickFeature(map, e.point, interactive);
        map.getCanvas().style.cursor = f && f.sourceLayer !== 'commune' ? 'pointer' : '';
    });
}

// ---- start --------------------------------------------------------------

async function main() {
    document.getElementById('panel-toggle').addEventListener('click', (e) => {
        const panel = document.getElementById('panel');
        const closed = panel.classList.toggle('closed');
        e.currentTarget.setAttribute('aria-expanded', String(!closed));
    });

    let cat;
    try {
        cat = await getJSON('/api/layers');
    } catch (err) {
        showError(`Le catalogue des couches est indisponible : ${err.message}`);
        cat = {layers: []};
    }
    const catalogue = new Map(cat.layers.map((l) => [l.name, l]));
    if (cat.fictional) {
        const badge = document.getElementById('fictional');
        badge.textContent = cat.fictional.charAt(0).toUpperCase() + cat.fictional.slice(1);
        badge.title = 'Les objets de cette carte sont inventés, à des fins de démonstration.';
        badge.hidden = false;
        document.title = `${document.title} (${cat.fictional})`;
    }

    const map = new maplibregl.Map({
        container: 'map',
        style: STYLE_URL,
        hash: true,
        locale: LOCALE,
        maxZoom: 21,
        attributionControl: {
            compact: true,
            customAttribution: cat.fictional ? `Données : ${cat.fictional}` : undefined,
        },
    });
    window.kartennMap = map; // for the browser test and the console
    map.addControl(new maplibregl.NavigationControl({visualizePitch: false}), 'top-right');
    map.addControl(new maplibregl.ScaleControl({unit: 'metric', maxWidth: 150}), 'bottom-left');
    map.addControl(new maplibregl.FullscreenControl(), 'top-right');
    map.on('error', (e) => {
        console.error('carte :', e.error?.message || e);
        showError(`Erreur de la carte : ${e.error?.message || 'inconnue'}`);
    });

    map.once('load', () => {
        const meta = map.getStyle().metadata || {};
        const bySource = styleLayersBySource(map);
        buildLayerList(map, catalogue, meta['kartenn:groups'] || [], bySource);
        buildLegend(meta['kartenn:legend'] || []);
        setupPopups(map, catalogue);
        map.once('idle', () => {
            // The sources' credits stay one click away ("i"), out of the
            // way of the scale bar; the header says when data are fictional.
            map.getContainer().querySelector('.maplibregl-ctrl-attrib')
                ?.classList.remove('maplibregl-compact-show');
            document.body.dataset.map = 'idle';
        });
    });
}

main();

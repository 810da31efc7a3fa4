// The dashboard's script, served from the same origin so that the page's Content Security Policy
// (script-src 'self') allows it. The token lives in this page's memory only: it is typed, never
// stored, never pre-filled.
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var PAGE = 100;
  var token = '';
  var cursors = [];  // X-Next-Before of each page shown before this one: the way back
  var before = null; // the page shown: null for the newest
  var timer = null;

  function authorized(path) {
    return fetch(path, { headers: { Authorization: 'Bearer ' + token } });
  }
  function get(path) {
    return authorized(path).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || response.status);
        return { body: body, headers: response.headers };
      });
    });
  }
  function cell(row, text, numeric) {
    var td = document.createElement('td');
    td.textContent = text == null || text === '' ? '—' : text;
    if (numeric) td.className = 'n';
    row.appendChild(td);
    return td;
  }
  // Minor units as the currency writes them (Intl knows each currency's decimals).
  function money(minor, currency) {
    var digits = new Intl.NumberFormat('en', { style: 'currency', currency: currency }).resolvedOptions().maximumFractionDigits;
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency }).format(minor / Math.pow(10, digits));
  }
  function range() {
    return 'since=' + encodeURIComponent($('since').value) + '&until=' + encodeURIComponent($('until').value);
  }

  // Bars per day (clicks, signups, conversions) on the left axis, and the net revenue of the
  // busiest currency as a line on the right axis, drawn here: the collector runs offline, so no
  // chart library from a CDN.
  function chart(days) {
    var svg = $('chart'), ns = 'http://www.w3.org/2000/svg';
    svg.textContent = '';
    var width = svg.clientWidth || 600, height = 200, left = 36, right = 64, bottom = 20, top = 10;
    var plot = height - bottom - top;
    function add(tag, attributes, text) {
      var el = document.createElementNS(ns, tag);
      Object.keys(attributes).forEach(function (k) { el.setAttribute(k, attributes[k]); });
      if (text != null) el.textContent = text;
      svg.appendChild(el);
      return el;
    }
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    if (!days.length) { add('text', { x: 8, y: 20 }, 'no activity in this range'); return; }
    var max = Math.max(1, Math.max.apply(null, days.map(function (d) { return Math.max(d.clicks, d.signups, d.conversions); })));
    var totals = {};
    days.forEach(function (d) { Object.keys(d.revenue || {}).forEach(function (c) { totals[c] = (totals[c] || 0) + Math.abs(d.revenue[c]); }); });
    var currency = Object.keys(totals).sort(function (a, b) { return totals[b] - totals[a]; })[0];
    var revenue = days.map(function (d) { return currency ? (d.revenue || {})[currency] || 0 : 0; });
    var high = Math.max(1, Math.max.apply(null, revenue)), low = Math.min(0, Math.min.apply(null, revenue));
    var slot = (width - left - right) / days.length, bar = Math.max(2, Math.min(18, slot / 4));
    // The axes, with their values.
    [0, 0.5, 1].forEach(function (f) {
      var y = top + plot * (1 - f);
      add('line', { x1: left, x2: width - right, y1: y, y2: y, stroke: '#ddd' });
      add('text', { x: left - 4, y: y + 3, 'text-anchor': 'end' }, String(Math.round(max * f)));
      if (currency) add('text', { x: width - right + 4, y: y + 3 }, money(low + (high - low) * f, currency));
    });
    var colours = [['clicks', '#4c78a8'], ['signups', '#f58518'], ['conversions', '#54a24b']];
    days.forEach(function (d, i) {
      var x = left + i * slot + slot / 2 - 1.5 * bar;
      colours.forEach(function (c, k) {
        var h = plot * d[c[0]] / max;
        add('rect', { x: x + k * bar, y: top + plot - h, width: bar, height: h, fill: c[1] })
          .appendChild(document.createElementNS(ns, 'title')).textContent = d.day + ': ' + d[c[0]] + ' ' + c[0];
      });
      if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) {
        add('text', { x: left + i * slot + slot / 2, y: height - 6, 'text-anchor': 'middle' }, d.day.slice(5));
      }
    });
    if (currency) {
      var points = revenue.map(function (r, i) {
        return (left + i * slot + slot / 2) + ',' + (top + plot * (1 - (r - low) / (high - low)));
      }).join(' ');
      add('polyline', { points: points, fill: 'none', stroke: '#b279a2', 'stroke-width': 2 })
        .appendChild(document.createElementNS(ns, 'title')).textContent = 'net revenue, ' + currency;
    }
    $('revenue-currency').textContent = currency ? 'net revenue (' + currency + ', right axis)' : 'net revenue';
  }

  function partners(report) {
    var body = $('partners');
    body.textContent = '';
    var percent = function (r) { return r == null ? null : (100 * r).toFixed(1) + ' %'; };
    report.partners.forEach(function (p) {
      var row = document.createElement('tr');
      cell(row, p.partner_key + (p.status === 'paused' ? ' (paused)' : p.registered ? '' : ' (unregistered)'));
      cell(row, p.clicks, true);
      cell(row, p.suppressed_clicks, true);
      cell(row, p.signups, true);
      cell(row, p.contested, true);
      cell(row, p.conversions, true);
      cell(row, percent(p.signups_per_click), true);
      cell(row, percent(p.conversion_rate), true);
      cell(row, (p.revenue || []).map(function (r) { return money(r.net, r.currency); }).join(', '), true);
      cell(row, p.last_activity);
      row.dataset.partner = p.partner_key;
      body.appendChild(row);
    });
  }

  function records(list, total) {
    var rows = $('rows');
    rows.textContent = '';
    list.forEach(function (s) {
      var row = document.createElement('tr');
      var credit = s.credit ? (s.credit.credited ? 'credited' : 'not credited') + ' (' + s.credit.standing + ')' +
        (s.credit.contested ? ', contested' : '') : null;
      [s.received_at, s.type, s.customer_key, s.name, s.email, s.partner_key, credit].forEach(function (v) { cell(row, v); });
      cell(row, s.amount != null ? money(s.amount, s.currency) : null, true);
      [s.xid, s.page_url].forEach(function (v) { cell(row, v); });
      if (s.credit) row.title = s.credit.reason;
      rows.appendChild(row);
    });
    $('table').hidden = list.length === 0;
    var first = cursors.length * PAGE;
    $('page').textContent = list.length
      ? 'records ' + (first + 1) + '–' + (first + list.length) + ' of ' + total + ', newest first'
      : 'no records in this range';
  }

  function load() {
    if (!token) return;
    var status = $('status');
    status.textContent = 'Loading…';
    var program = $('program').value.trim();
    var list = '/v1/signups?limit=' + PAGE + '&count=1&' + range() + (before ? '&before=' + before : '');
    Promise.all([get('/v1/partners?' + range() + '&public_key=' + encodeURIComponent(program)), get(list)])
      .then(function (answers) {
        var report = answers[0].body;
        partners(report);
        chart(report.days);
        var next = answers[1].headers.get('X-Next-Before');
        records(answers[1].body, answers[1].headers.get('X-Total-Count'));
        $('next').disabled = !next;
        $('next').dataset.before = next || '';
        $('previous').disabled = cursors.length === 0;
        var unmatched = (report.unmatched || []).map(function (u) { return u.transactions + ' (' + money(u.amount, u.currency) + ')'; });
        status.textContent = report.partners.length + ' partners' + (unmatched.length ? '; payments matching no customer: ' + unmatched.join(', ') : '') + '.';
      })
      .catch(function (error) { status.textContent = 'Could not load: ' + error.message; });
  }

  $('auth').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('token').value;
    cursors = [];
    before = null;
    load();
    clearInterval(timer);
    timer = setInterval(load, 10000);
  });
  $('next').addEventListener('click', function () {
    cursors.push(before);
    before = $('next').dataset.before;
    load();
  });
  $('previous').addEventListener('click', function () {
    before = cursors.pop() || null;
    load();
  });

  $('builder').addEventListener('submit', function (e) {
    e.preventDefault();
    var link = $('link');
    link.href = location.origin + '/r/' + encodeURIComponent($('link-partner').value.trim()) + '?to=' + encodeURIComponent($('link-to').value.trim() || '/');
    link.textContent = link.href;
    link.hidden = false;
  });

  // The export is the collector's: every record in the range, streamed as CSV with formula-like
  // text kept as text (GET /v1/signups.csv).
  $('csv').addEventListener('click', function () {
    authorized('/v1/signups.csv?' + range()).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      var name = (/filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '') || [])[1] || 'reftrack-records.csv';
      return response.blob().then(function (blob) {
        var a = document.createElement('a');
        a.href = URL.createObjectURL(blob);
        a.download = name;
        document.body.appendChild(a);
        a.click();
        a.remove();
      });
    }).catch(function (error) { $('status').textContent = 'Could not export: ' + error.message; });
  });
})();

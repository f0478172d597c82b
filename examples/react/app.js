// A React app that orders its own list from attnflow's scores. No JSX, no build step: React comes
// as the UMD files of node_modules/react and react-dom.
(function () {
  var e = React.createElement;
  var STORIES = [
    ['sport-1', 'sport', 'Late winner settles the derby'],
    ['politics-1', 'politics', 'Budget talks stall over housing'],
    ['science-1', 'science', 'Telescope finds water on a distant moon'],
    ['culture-1', 'culture', 'Festival opens with a silent film'],
    ['business-1', 'business', 'Rail freight firm doubles profits'],
    ['travel-1', 'travel', 'Night trains return to the Alps'],
    ['tech-1', 'tech', 'Phones that last ten years'],
    ['science-2', 'science', 'Gene study explains a rare allergy'],
    ['sport-2', 'sport', 'Marathon record falls in the rain'],
    ['travel-2', 'travel', 'A coastal walk in twelve days'],
  ].map(function (s) { return { id: s[0], topic: s[1], title: s[2] }; });

  function tracker() {
    return new Promise(function (resolve) {
      if (window.attnflow && !Array.isArray(window.attnflow)) resolve(window.attnflow);
      else addEventListener('attnflow:ready', function (ev) { resolve(ev.detail); }, { once: true });
    });
  }

  function ordered(scores) {
    return STORIES.slice().sort(function (a, b) {
      return (scores[b.id] || 0) - (scores[a.id] || 0);
    });
  }

  function App() {
    var state = React.useState(null);
    var stories = state[0];
    var setStories = state[1];
    var note = React.useState('Waiting for the scores of the model on this device…');
    var pending = React.useRef(null);
    var list = React.useRef(null);
    var visible = React.useRef(false);

    React.useEffect(function () {
      var stop = function () {};
      // The model chunk (TensorFlow.js) can take a few seconds to start: wait for it, within reason.
      var fallback = setTimeout(function () {
        note[1]('No scores yet: the site’s own order. It changes once scores arrive and the list is off screen.');
        setStories(function (s) { return s || STORIES; });
      }, 6000);
      tracker().then(function (af) {
        var ids = STORIES.map(function (s) { return s.id; });
        var apply = function (scores) {
          var n = Object.keys(scores || {}).length;
          note[1](n ? 'Ordered by ' + n + ' scores from the model on this device.' : 'The model cannot run here: the site’s own order.');
          // Like the SDK itself: never move what the visitor can see.
          if (visible.current) pending.current = scores;
          else setStories(ordered(scores));
        };
        if (typeof af.scores !== 'function') return;
        af.scores(ids).then(function (scores) {
          clearTimeout(fallback);
          apply(scores || {});
        });
        stop = af.on('scores', function () { af.scores(ids).then(apply); });
      });
      return function () { stop(); clearTimeout(fallback); };
    }, []);

    React.useEffect(function () {
      if (!list.current) return;
      var io = new IntersectionObserver(function (entries) {
        visible.current = entries[0].isIntersecting;
        if (!visible.current && pending.current) {
          setStories(ordered(pending.current));
          pending.current = null;
        }
      });
      io.observe(list.current);
      return function () { io.disconnect(); };
    }, [stories !== null]);

    if (!stories) return e('div', null, e('p', { id: 'note' }, note[0]), e('div', { className: 'grid', style: { minHeight: '400px' } }));
    return e(
      'div',
      null,
      e('p', { id: 'note' }, note[0]),
      e(
      'section',
      { className: 'grid', ref: list, 'aria-label': 'Stories for you' },
      stories.map(function (s) {
        return e(
          'article',
          { key: s.id, className: 'card', 'data-attn-item': s.id, 'data-attn-topics': s.topic },
          e('span', { className: 'topic' }, s.topic),
          e('h3', null, e('a', { href: '../index.html#' + s.id }, s.title)),
          e('p', null, 'Ordered by your on-device score.'),
        );
      }),
      ),
    );
  }

  ReactDOM.createRoot(document.getElementById('app')).render(e(App));
})();

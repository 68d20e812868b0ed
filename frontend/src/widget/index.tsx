/**
 * The notebook widget (anywidget ES module, `make widget`): the web app's views in a cell.
 * `view: "workbench"` runs a live session through the kernel (see loupe/notebook/widget.py);
 * `"attention"` / `"tokens"` draw tensors given from Python. Each widget gets its own module
 * instance, so its own store; the views render in a shadow root so the app's styles stay inside.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import appCss from '../app.css?inline';
import { connect } from '../state/actions';
import featuresCss from '../views/features/features.css?inline';
import { set } from '../state/store';
import type { InitializeProps, RenderProps, WidgetModel } from './anywidget';
import { CommSocket } from './commSocket';
import { StaticView } from './StaticView';
import { readStatic } from './staticData';
import { scopeCss } from './scopeCss';
import widgetCss from './widget.css?inline';
import { Workbench } from './Workbench';

function syncFromKernel(model: WidgetModel): void {
  set({ prompt: String(model.get('prompt') ?? ''), answer: String(model.get('answer') ?? ''), wrong: String(model.get('wrong') ?? '') });
}

function initialize({ model }: InitializeProps): (() => void) | void {
  if (model.get('view') !== 'workbench') return;
  syncFromKernel(model);
  set((s) => ({ features: { ...s.features, urlLink: false } })); // the notebook's URL is Jupyter's
  const onPrompt = () => set({ prompt: String(model.get('prompt') ?? '') });
  model.on('change:prompt', onPrompt);
  let socket: CommSocket | null = null;
  connect('comm://loupe', () => {
    socket = new CommSocket(model);
    return socket as unknown as WebSocket;
  });
  return () => {
    model.off('change:prompt', onPrompt);
    socket?.close();
  };
}

function render({ model, el }: RenderProps): () => void {
  const shadow = el.shadowRoot ?? el.attachShadow({ mode: 'open' });
  const style = document.createElement('style');
  style.textContent = scopeCss(appCss + featuresCss) + widgetCss;
  const mount = document.createElement('div');
  shadow.replaceChildren(style, mount);
  const root = createRoot(mount);
  const data = model.get('view') === 'workbench' ? null : readStatic(model.get('data'));
  root.render(<StrictMode>{data ? <StaticView data={data} /> : <Workbench />}</StrictMode>);
  return () => {
    root.unmount();
    shadow.replaceChildren();
  };
}

export default { initialize, render };

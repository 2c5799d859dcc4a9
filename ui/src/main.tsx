import { render } from 'preact';
import { App } from './app.tsx';
import './style.css';

const root = document.getElementById('root')!;
root.textContent = ''; // the "Loading…" placeholder of index.html
render(<App />, root);

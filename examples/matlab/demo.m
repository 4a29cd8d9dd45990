% demo.m: bridge's MATLAB wrappers beside MATLAB's own conv, conv2 and convn.
%
%   octave-cli examples/matlab/demo.m      or, in MATLAB,   run('examples/matlab/demo.m')
%
% The wrappers run the Python in $BRIDGE_PYTHON, getpref('bridge', 'python') or python3 (see
% help bridge_conv); from a checkout they use its bridge package, installed or not.
% Exits with status 1 if a wrapper disagrees with the built-in function.
here = fileparts(mfilename('fullpath'));
addpath(fullfile(here, '..', '..', 'matlab'));
bridge_diagnose;

checks = {};
% MATLAB's documentation example: 'same' is centred as MATLAB centres it, not as numpy does.
u = [-1 2 3 -2 0 1 2];
v = [2 4 -1 1];
w = bridge_conv(u, v, 'same');
checks(end + 1, :) = {'conv same', w, conv(u, v, 'same')};

% conv2 on a single image: the result stays single.
A = single(magic(6));
B = single([1 2 1; 2 4 2; 1 2 1] / 16);
checks(end + 1, :) = {'conv2 single', bridge_conv2(A, B, 'valid'), conv2(A, B, 'valid')};

% the separable form conv2(u, v, A): columns with u, then rows with v.
checks(end + 1, :) = {'conv2 separable', bridge_conv2([1 2 1], [1 0 -1], magic(5)), ...
                      conv2([1 2 1], [1 0 -1], magic(5))};

% convn of a complex volume with a logical kernel.
V = reshape(1:24, 2, 3, 4) + 1i * reshape(24:-1:1, 2, 3, 4);
K = true(2, 2, 2);
checks(end + 1, :) = {'convn complex', bridge_convn(V, K, 'same'), convn(V, double(K), 'same')};

ok = true;
for k = 1:size(checks, 1)
  [name, got, want] = checks{k, :};
  same = isequal(size(got), size(want)) && strcmp(class(got), class(want)) && ...
         max(abs(got(:) - want(:))) <= 8 * eps(class(want)) * max(1, max(abs(want(:))));
  verdict = 'agrees';
  if ~same
    verdict = 'DIFFERS';
  end
  fprintf('%-16s %-8s %-10s %s\n', name, class(got), mat2str(size(got)), verdict);
  ok = ok && same;
end
try
  bridge_conv(magic(3), [1 2]);
catch err
  fprintf('error as in MATLAB: %s\n', err.identifier);
  ok = ok && strcmp(err.identifier, 'MATLAB:conv:AorBNotVector');
end
if ~ok
  exit(1);
end
disp('demo: every wrapper agrees with the built-in function');

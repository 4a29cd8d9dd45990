function shape = bridge_shape(args, position, id)
%BRIDGE_SHAPE  The SHAPE argument at POSITION of ARGS as char ('full' when absent).
%   Text is passed on as it is (the worker checks the value, case-insensitively as MATLAB does);
%   anything else is refused here with identifier ID, as it could not travel as a request field.
if numel(args) < position
  shape = 'full';
elseif bridge_istext(args{position})
  shape = char(args{position});   % string objects become char before save
else
  error(id, '%s', 'SHAPE must be ''full'', ''same'', or ''valid''.');
end
end
